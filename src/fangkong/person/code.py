"""The person code (个人码): what a resident's phone shows and a sampler or checkpoint scans.

`FK1.<person id>.<check>` where the check is 10 characters of an HMAC-SHA256 of the id under
the installation's secret key: a code cannot be made up from an id, and a mistyped code is
refused. The code never contains personal data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fangkong.config import get_settings

PREFIX = "FK1"


def _check(person_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"person:{person_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest)[:10].decode()


def make(person_id: int, secret: str | None = None) -> str:
    return f"{PREFIX}.{person_id}.{_check(person_id, secret or get_settings().secret_key)}"


def read(code: str, secret: str | None = None) -> int | None:
    """The person id in a valid code, else None."""
    parts = code.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit() or len(parts[1]) > 10:
        return None
    person_id = int(parts[1])
    expected = _check(person_id, secret or get_settings().secret_key)
    return person_id if hmac.compare_digest(expected, parts[2].upper()) else None


def looks_like(value: str) -> bool:
    return value.strip().startswith(PREFIX + ".")
