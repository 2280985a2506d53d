"""The application factory: JSON API under /api/v1, web pages under /, static assets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import Engine

from fangkong.api import errors
from fangkong.config import Settings, get_settings
from fangkong.db.engine import make_engine
from fangkong.db.session import make_session_factory

API_PREFIX = "/api/v1"


def api_router() -> APIRouter:
    from fangkong.area.router import router as areas
    from fangkong.audit.router import router as audit
    from fangkong.auth.router import router as auth
    from fangkong.case.router import router as cases
    from fangkong.imports.router import router as imports
    from fangkong.movement.router import router as movement
    from fangkong.nat.router import router as nat
    from fangkong.person.router import router as persons
    from fangkong.place.router import router as places
    from fangkong.policy_profile.router import router as policy
    from fangkong.unit.router import router as units

    router = APIRouter(prefix=API_PREFIX)

    @router.get("/health", tags=["health"])
    def health(request: Request) -> dict[str, str]:
        """Liveness and database reachability (no login needed; for load balancers)."""
        from sqlalchemy import text

        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    for r in (auth, areas, persons, places, units, imports, movement, policy, cases, nat, audit):
        router.include_router(r)
    return router


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, worker: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings)
    factory = make_session_factory(engine)
    run_worker = settings.inprocess_worker if worker is None else worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fangkong.events.registry import load_handlers
        from fangkong.events.service import InProcessWorker

        load_handlers()
        import gc

        gc.freeze()  # what start-up built is never garbage: keep it out of the collector's scans
        w = InProcessWorker(factory) if run_worker else None
        if w is not None:
            w.start()
        try:
            yield
        finally:
            app.state.intake.stop()
            if w is not None:
                w.stop()

    app = FastAPI(
        title="fangkong 防控",
        version="0.1.0",
        description="Epidemic prevention and control command platform. Log in with "
        "`POST /api/v1/auth/login` and send `Authorization: Bearer <token>`. Every error has "
        'the shape `{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks ask the global providers on every request; off unless
        # an installation wires OpenTelemetry (FANGKONG_OPENTELEMETRY=true).
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
        },
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    from fangkong.api.intake import Intake

    # swab registration: group commit (its writer thread starts on first use). On PostgreSQL
    # the writer has its own small pool without the liveness ping before each checkout (one
    # round trip per batch); a dropped connection fails one batch, whose swabs are retried.
    intake_factory = factory
    if engine.dialect.name == "postgresql":
        intake_engine = make_engine(
            url=engine.url.render_as_string(hide_password=False), pool_pre_ping=False, pool_size=2
        )
        intake_factory = make_session_factory(intake_engine)
    app.state.intake = Intake(
        intake_factory, linger_s=settings.intake_linger_ms / 1000, writers=settings.intake_writers
    )
    from fangkong.auth.service import RateLimiter

    app.state.login_limiter = RateLimiter()
    errors.install(app)
    from fangkong.api.guard import NulGuard

    app.add_middleware(NulGuard)
    app.include_router(api_router())
    # The hot path of mass testing skips route matching through the included routers (which
    # costs more than the handler itself): the same handler as documented in the OpenAPI schema.
    from starlette.routing import Route

    from fangkong.nat.router import register_sample

    app.router.routes.insert(0, Route(f"{API_PREFIX}/nat/samples", register_sample, methods=["POST"]))

    from fangkong.web.routes import mount as mount_web

    mount_web(app)
    return app
