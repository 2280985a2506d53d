"""Refuse NUL characters in requests before they reach a service.

PostgreSQL text cannot hold NUL (0x00) and no field of fangkong's has a use for it, so a
request that carries one in its path, query string or (JSON or form) body gets the usual
`422 invalid` error. Uploaded files (multipart) are exempt: workbooks are binary; the
importer checks their content itself.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fangkong.errors import ErrorDetail, Invalid

MAX_INSPECTED = 10 * 1024 * 1024


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _nul_in_url(scope)
        if where:
            await _refuse(send, where)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        body, more, messages = b"", True, []
        while more and len(body) <= MAX_INSPECTED:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if b"\x00" in body or b"\\u0000" in body:
            await _refuse(send, "body")
            return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"\x00" in unquote_to_bytes(query):
        return "query"
    return None


async def _refuse(send: Send, where: str) -> None:
    err = Invalid(
        "the request contains a NUL character", [ErrorDetail(where, "NUL (0x00) characters are not allowed")]
    )
    payload = json.dumps(err.as_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
