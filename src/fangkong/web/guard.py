"""Who is looking at a page: the session cookie, CSRF checks, safe redirects."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.auth import service as auth
from fangkong.auth.actor import Actor
from fangkong.errors import Forbidden, Unauthenticated
from fangkong.web.session import COOKIE, same_token, unsign_cookie


class LoginRequired(Exception):
    pass


def web_actor(request: Request, session: Session) -> Actor:
    cookie = request.cookies.get(COOKIE)
    raw = unsign_cookie(request.app.state.settings, cookie) if cookie else None
    if raw is None:
        raise LoginRequired()
    try:
        user, row = auth.resolve(session=session, token=raw, kind="web")
    except Unauthenticated:
        raise LoginRequired() from None
    return auth.actor_of(user, csrf=row.csrf_token)


def check_csrf(actor: Actor, token: str | None) -> None:
    if not same_token(actor.session_csrf, token):
        raise Forbidden(
            "the form has expired or did not come from this site (CSRF check); reload the page and try again"
        )


def safe_next(value: str | None) -> str:
    # a path on this site only: not "//host" nor "/\\host" (browsers read both as another host)
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def area_names(session: Session, codes_: set[str]) -> dict[str, str]:
    """Readable names for lists: from the county down (锦江区春熙路街道和平社区第1网格)."""
    if not codes_:
        return {}
    wanted = {c[:n] for c in codes_ for n in (6, 9, 12, 15) if len(c) >= n} | set(codes_)
    names = dict(session.execute(select(Area.code, Area.name).where(Area.code.in_(wanted))).all())
    out = {}
    for code in codes_:
        parts = [names[code[:n]] for n in (6, 9, 12, 15) if len(code) >= n and code[:n] in names]
        out[code] = "".join(parts) or names.get(code, code)
    return out
