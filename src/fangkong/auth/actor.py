"""Who is acting: a logged-in user, or the system (CLI run by an operator, jobs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fangkong.auth.roles import ROLES


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    roles: frozenset[str]
    # Jurisdiction root; None = whole country.
    area_code: str | None = None
    person_id: int | None = None
    language: str | None = None
    session_csrf: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_system(self) -> bool:
        return self.user_id is None


def system_actor(name: str = "system") -> Actor:
    """The operator at the console (CLI) or a background job: every role, whole country."""
    return Actor(user_id=None, username=name, roles=frozenset(ROLES) - {"resident"})
