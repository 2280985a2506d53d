"""Signed session cookies and CSRF tokens for the server-rendered pages."""

from __future__ import annotations

import hmac

from itsdangerous import BadSignature, TimestampSigner

from fangkong.config import Settings

COOKIE = "fk_session"
LANG_COOKIE = "fk_lang"
PRELOGIN_COOKIE = "fk_prelogin"


def _signer(settings: Settings, salt: str) -> TimestampSigner:
    return TimestampSigner(settings.secret_key, salt=salt)


def sign_cookie(settings: Settings, token: str) -> str:
    return _signer(settings, "session").sign(token).decode()


def unsign_cookie(settings: Settings, value: str) -> str | None:
    try:
        return _signer(settings, "session").unsign(value, max_age=settings.web_session_hours * 3600).decode()
    except BadSignature:
        return None


def prelogin_token(settings: Settings, nonce: str) -> str:
    """CSRF token for the login form (no session yet): bound to a nonce cookie."""
    return _signer(settings, "prelogin").sign(nonce).decode()


def check_prelogin(settings: Settings, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    try:
        value = _signer(settings, "prelogin").unsign(token, max_age=3600).decode()
    except BadSignature:
        return False
    return hmac.compare_digest(value, nonce)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))
