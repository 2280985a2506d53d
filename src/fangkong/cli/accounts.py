"""`fangkong user …` and `fangkong audit list`."""

from __future__ import annotations

import typer

from fangkong.cli.common import AsUser, Format, actor_for, output, unit_of_work

user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    username: str,
    role: list[str] = typer.Option(..., "--role", help="repeat for several roles"),
    area: str | None = typer.Option(None, "--area", help="jurisdiction area code"),
    person: int | None = typer.Option(None, "--person", help="residents: their person id"),
    name: str = typer.Option("", "--name", help="display name"),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="FANGKONG_NEW_PASSWORD",
        help="default: prompt (or a generated one with --generate)",
    ),
    generate: bool = typer.Option(False, "--generate", help="generate a password and print it once"),
    as_user: str | None = AsUser,
) -> None:
    """Create an account with roles and a jurisdiction."""
    import secrets

    from fangkong.area import codes
    from fangkong.auth import service as auth

    if password is None:
        password = (
            secrets.token_urlsafe(12) + "!"
            if generate
            else typer.prompt("password", hide_input=True, confirmation_prompt=True)
        )
    with unit_of_work() as session:
        user = auth.create_user(
            session=session,
            actor=actor_for(session, as_user),
            data=auth.NewUser(
                username=username,
                display_name=name,
                password=password,
                roles=tuple(role),
                area_code=codes.normalize(area) if area else None,
                person_id=person,
            ),
        )
        typer.echo(f"created {user.username} ({', '.join(user.roles)}; area {user.area_code or 'all'})")
    if generate:
        typer.echo(f"password: {password}")


@user_app.command("list")
def user_list(fmt: str = Format, as_user: str | None = AsUser) -> None:
    """List accounts."""
    from fangkong.auth import service as auth

    with unit_of_work() as session:
        rows = [
            {
                "username": u.username,
                "roles": ",".join(u.roles),
                "area": u.area_code or "",
                "disabled": u.disabled,
                "last_login": u.last_login_at,
            }
            for u in auth.list_users(session=session, actor=actor_for(session, as_user))
        ]
    output(rows, fmt)


def _set_disabled(username: str, disabled: bool, as_user: str | None) -> None:
    from fangkong.auth import service as auth

    with unit_of_work() as session:
        auth.set_disabled(
            session=session, actor=actor_for(session, as_user), username=username, disabled=disabled
        )
    typer.echo(f"{username} {'disabled' if disabled else 'enabled'}")


@user_app.command("disable")
def user_disable(username: str, as_user: str | None = AsUser) -> None:
    """Disable an account and end its sessions and tokens."""
    _set_disabled(username, True, as_user)


@user_app.command("enable")
def user_enable(username: str, as_user: str | None = AsUser) -> None:
    """Enable an account again (also clears a lock-out)."""
    _set_disabled(username, False, as_user)


@user_app.command("password")
def user_password(
    username: str,
    password: str | None = typer.Option(None, envvar="FANGKONG_NEW_PASSWORD"),
    as_user: str | None = AsUser,
) -> None:
    """Set an account's password (also clears a lock-out)."""
    from fangkong.auth import service as auth

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as session:
        auth.set_password(
            session=session, actor=actor_for(session, as_user), username=username, password=password
        )
    typer.echo(f"password of {username} changed")


@audit_app.command("list")
def audit_list(
    limit: int = typer.Option(50, min=1, max=10_000),
    user: str | None = typer.Option(None, help="only this account's actions"),
    action: str | None = typer.Option(None, help="e.g. person.read_pii"),
    resource: str | None = typer.Option(None, help="TYPE or TYPE:ID, e.g. person:42"),
    fmt: str = Format,
    as_user: str | None = AsUser,
) -> None:
    """Show the newest audit entries."""
    from fangkong.audit import service as audit
    from fangkong.privacy import mask_record

    rtype, _, rid = (resource or "").partition(":")
    with unit_of_work() as session:
        rows = audit.list_entries(
            session=session,
            actor=actor_for(session, as_user),
            limit=limit,
            user=user,
            action=action,
            resource_type=rtype or None,
            resource_id=rid or None,
        )
        out = [
            {
                "id": e.id,
                "at": e.at.isoformat(timespec="seconds"),
                "user": e.actor_name,
                "action": e.action,
                "resource": f"{e.resource_type}:{e.resource_id or ''}",
                "reason": e.reason or "",
                "before": mask_record(e.before, e.resource_type),
                "after": mask_record(e.after, e.resource_type),
            }
            for e in rows
        ]
    output(out, fmt, columns=None if fmt == "json" else ["id", "at", "user", "action", "resource", "reason"])


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")
