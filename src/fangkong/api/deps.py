"""Request-scoped dependencies: the unit of work and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from fangkong.auth import service as auth
from fangkong.auth.actor import Actor
from fangkong.config import Settings
from fangkong.db.session import unit_of_work
from fangkong.errors import Forbidden, Unauthenticated

WEB_COOKIE = "fk_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit once when the handler succeeds, else roll back."""
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


DbSession = Annotated[Session, Depends(_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def current_actor(request: Request, session: DbSession) -> Actor:
    """The caller: a Bearer token (API clients) or the web session cookie (browser)."""
    token = bearer_token(request)
    if token is not None:
        user, _row = auth.resolve(session=session, token=token, kind="api")
        return auth.actor_of(user)
    cookie = request.cookies.get(WEB_COOKIE)
    if cookie:
        from fangkong.web.session import unsign_cookie

        raw = unsign_cookie(request.app.state.settings, cookie)
        if raw is None:
            raise Unauthenticated("invalid session cookie; log in again")
        user, row = auth.resolve(session=session, token=raw, kind="web")
        if request.method not in SAFE_METHODS:
            from fangkong.web.session import same_token

            if not same_token(row.csrf_token, request.headers.get("x-csrf-token")):
                raise Forbidden(
                    "a browser session needs the X-CSRF-Token header for this request (or use a bearer token)"
                )
        return auth.actor_of(user, csrf=row.csrf_token)
    raise Unauthenticated("log in first: send `Authorization: Bearer <token>` (POST /api/v1/auth/login)")


CurrentActor = Annotated[Actor, Depends(current_actor)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
