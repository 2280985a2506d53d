"""Password hashing with argon2id."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fangkong.config import get_settings
from fangkong.errors import invalid

MIN_LENGTH = 10


@functools.cache
def _hasher(fast: bool) -> PasswordHasher:
    if fast:  # the test suite creates many users; production keeps argon2's defaults
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def _current() -> PasswordHasher:
    return _hasher(get_settings().env == "test")


def hash_password(password: str) -> str:
    check_strength(password)
    return _current().hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _current().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise invalid("password", f"must have at least {MIN_LENGTH} characters")
    has_digit = any(c.isdigit() for c in password)
    has_letter = any(c.isalpha() for c in password)
    has_symbol = any(not c.isalnum() for c in password)
    kinds = int(has_digit) + int(has_letter) + int(has_symbol)
    if kinds < 2:
        raise invalid("password", "must mix at least two of: letters, digits, symbols")
