"""Accounts and logins: create/disable users, log in with lock-out and rate limiting,
issue and check API tokens and web sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fangkong.area.models import Area
from fangkong.audit import service as audit
from fangkong.auth.actor import Actor
from fangkong.auth.authorize import authorize
from fangkong.auth.models import AuthSession, User, UserRole
from fangkong.auth.passwords import hash_password, verify_password
from fangkong.auth.roles import ROLES
from fangkong.config import Settings
from fangkong.db.base import utcnow
from fangkong.errors import (
    Conflict,
    ErrorDetail,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    invalid,
)
from fangkong.person.models import Person


@dataclass(frozen=True)
class NewUser:
    username: str
    display_name: str
    password: str
    roles: tuple[str, ...]
    area_code: str | None = None
    person_id: int | None = None


def _validate_new(session: Session, data: NewUser) -> None:
    problems = []
    if (
        not data.username
        or len(data.username) > 64
        or not all(c.isalnum() or c in "._-" for c in data.username)
    ):
        problems.append(ErrorDetail("username", "use 1–64 letters, digits, '.', '_' or '-'", data.username))
    unknown = [r for r in data.roles if r not in ROLES]
    if unknown or not data.roles:
        problems.append(
            ErrorDetail(
                "roles",
                f"unknown or missing role(s) {', '.join(unknown)}; expected some of {', '.join(ROLES)}",
                ",".join(data.roles),
            )
        )
    if data.area_code is not None and session.get(Area, data.area_code) is None:
        problems.append(ErrorDetail("area_code", "unknown area code", data.area_code))
    if "resident" in data.roles:
        if data.person_id is None:
            problems.append(ErrorDetail("person_id", "a resident account must be linked to a person"))
        elif session.get(Person, data.person_id) is None:
            problems.append(ErrorDetail("person_id", "no such person", data.person_id))
    elif data.area_code is None and "admin" not in data.roles and "auditor" not in data.roles:
        problems.append(
            ErrorDetail(
                "area_code",
                "staff accounts need a jurisdiction (area code); only admin and auditor may be nationwide",
            )
        )
    if problems:
        raise Invalid("invalid user", problems)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(
            f"user {data.username} already exists", [ErrorDetail("username", "already exists", data.username)]
        )


def create_user(*, session: Session, actor: Actor, data: NewUser) -> User:
    authorize(actor, "user.manage")
    _validate_new(session, data)
    if actor.area_code and (data.area_code is None or not data.area_code.startswith(actor.area_code)):
        raise Invalid("invalid user", [ErrorDetail("area_code", "outside your jurisdiction", data.area_code)])
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        password_hash=hash_password(data.password),
        area_code=data.area_code,
        person_id=data.person_id,
    )
    user.role_rows = [UserRole(role=r) for r in sorted(set(data.roles))]
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after={"username": user.username, "roles": user.roles, "area_code": user.area_code},
        area_code=user.area_code,
    )
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username} not found")
    return user


def set_disabled(*, session: Session, actor: Actor, username: str, disabled: bool) -> User:
    authorize(actor, "user.manage")
    user = get_user(session, username)
    if actor.area_code and not (user.area_code or "").startswith(actor.area_code):
        authorize(actor, "user.manage", user)
    if user.disabled != disabled:
        user.disabled = disabled
        if disabled:
            session.execute(
                update(AuthSession)
                .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        else:
            user.failed_logins, user.locked_until = 0, None
        audit.record(
            session,
            actor,
            "user.disable" if disabled else "user.enable",
            "user",
            user.id,
            before={"disabled": not disabled},
            after={"disabled": disabled},
        )
    return user


def set_password(*, session: Session, actor: Actor, username: str, password: str) -> None:
    user = get_user(session, username)
    if actor.user_id != user.id:
        authorize(actor, "user.manage")
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, actor, "user.password", "user", user.id)


def list_users(*, session: Session, actor: Actor) -> list[User]:
    authorize(actor, "user.read")
    return list(session.scalars(select(User).order_by(User.username)))


def actor_of(user: User, csrf: str | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        roles=frozenset(user.roles),
        area_code=user.area_code,
        person_id=user.person_id,
        language=user.language,
        session_csrf=csrf,
    )


# ---------------------------------------------------------------- login


class RateLimiter:
    """Sliding one-minute window per key (client address), in memory per process."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and now - q[0] > 60:
                q.popleft()
            if len(q) >= per_minute:
                raise TooManyRequests("too many login attempts from your address; wait a minute")
            q.append(now)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    *,
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    kind: str,
    client: str = "unknown",
    limiter: RateLimiter | None = None,
) -> tuple[str, AuthSession, User]:
    """Check the password; return (token, session row, user). Failures are audited."""
    if limiter is not None:
        limiter.hit(client, settings.login_rate_per_minute)
    user = session.scalar(select(User).where(User.username == username))
    now = utcnow()
    failure = Unauthenticated("wrong username or password")
    if user is None:
        verify_password("$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$aGFzaA", password)  # same cost
        raise failure
    if user.disabled:
        raise Unauthenticated("this account is disabled")
    if user.locked_until is not None and user.locked_until > now:
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        raise Unauthenticated(
            f"this account is locked after repeated failures; try again in "
            f"{minutes} minute(s) or ask an administrator"
        )
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
        audit.record(
            session,
            actor_of(user),
            "auth.login_failed",
            "user",
            user.id,
            after={"client": client, "locked": user.locked_until is not None and user.locked_until > now},
        )
        raise failure
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    hours = settings.api_token_hours if kind == "api" else settings.web_session_hours
    row = AuthSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(24) if kind == "web" else None,
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
    )
    session.add(row)
    audit.record(
        session, actor_of(user), "auth.login", "user", user.id, after={"kind": kind, "client": client}
    )
    return token, row, user


def resolve(*, session: Session, token: str, kind: str | None = None) -> tuple[User, AuthSession]:
    """The user behind a token, or Unauthenticated (unknown, revoked, expired, disabled)."""
    if not token or len(token) > 200:
        raise Unauthenticated("invalid token")
    row = session.get(AuthSession, _token_hash(token))
    if row is None or (kind is not None and row.kind != kind):
        raise Unauthenticated("invalid token")
    if row.revoked_at is not None:
        raise Unauthenticated("this token was revoked (logged out); log in again")
    if row.expires_at <= utcnow():
        raise Unauthenticated("this token has expired; log in again")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise Unauthenticated("this account is disabled")
    return user, row


def logout(*, session: Session, token: str) -> None:
    row = session.get(AuthSession, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise invalid("reason", "state a reason (at least 4 characters)")
    return reason
