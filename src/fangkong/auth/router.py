"""/api/v1/auth and /api/v1/users."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fangkong.api.deps import (
    CurrentActor,
    DbSession,
    bearer_token,
    client_address,
    settings_of,
)
from fangkong.area import codes
from fangkong.auth import service as auth
from fangkong.auth.authorize import authorize
from fangkong.auth.models import User
from fangkong.auth.roles import actions_of
from fangkong.auth.schemas import (
    LoginRequest,
    LoginResponse,
    PasswordChange,
    UserCreate,
    UserOut,
)
from fangkong.errors import FangkongError

router = APIRouter(tags=["auth"])


def user_out(user: User, with_actions: bool = False) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=user.roles,
        area_code=user.area_code,
        person_id=user.person_id,
        disabled=user.disabled,
        last_login_at=user.last_login_at,
        actions=actions_of(user.roles) if with_actions else [],
    )


@router.post("/auth/login", response_model=LoginResponse)
def login(body: LoginRequest, request: Request, session: DbSession) -> LoginResponse:
    """Exchange a username and password for a bearer token (lock-out after repeated failures)."""
    try:
        token, row, user = auth.login(
            session=session,
            settings=settings_of(request),
            username=body.username,
            password=body.password,
            kind="api",
            client=client_address(request),
            limiter=request.app.state.login_limiter,
        )
    except FangkongError:
        session.commit()  # keep the failure count and its audit row
        raise
    return LoginResponse(token=token, expires_at=row.expires_at, user=user_out(user, True))


@router.post("/auth/logout", status_code=204)
def logout(request: Request, session: DbSession, actor: CurrentActor) -> None:
    token = bearer_token(request)
    if token:
        auth.logout(session=session, token=token)


@router.get("/auth/me", response_model=UserOut)
def me(session: DbSession, actor: CurrentActor) -> UserOut:
    user = session.get(User, actor.user_id)
    assert user is not None
    return user_out(user, True)


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(session: DbSession, actor: CurrentActor) -> list[UserOut]:
    return [user_out(u) for u in auth.list_users(session=session, actor=actor)]


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(body: UserCreate, session: DbSession, actor: CurrentActor) -> UserOut:
    area = codes.normalize(body.area_code) if body.area_code else None
    user = auth.create_user(
        session=session,
        actor=actor,
        data=auth.NewUser(
            username=body.username,
            display_name=body.display_name,
            password=body.password,
            roles=tuple(body.roles),
            area_code=area,
            person_id=body.person_id,
        ),
    )
    return user_out(user)


@router.post("/users/{username}/disable", response_model=UserOut, tags=["users"])
def disable_user(username: str, session: DbSession, actor: CurrentActor) -> UserOut:
    return user_out(auth.set_disabled(session=session, actor=actor, username=username, disabled=True))


@router.post("/users/{username}/enable", response_model=UserOut, tags=["users"])
def enable_user(username: str, session: DbSession, actor: CurrentActor) -> UserOut:
    return user_out(auth.set_disabled(session=session, actor=actor, username=username, disabled=False))


@router.post("/users/{username}/password", status_code=204, tags=["users"])
def change_password(username: str, body: PasswordChange, session: DbSession, actor: CurrentActor) -> None:
    if actor.username != username:
        authorize(actor, "user.manage")
    auth.set_password(session=session, actor=actor, username=username, password=body.password)
