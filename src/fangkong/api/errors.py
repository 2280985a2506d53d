"""One JSON error shape for every API error:

{"error": {"code": "not_found", "message": "...", "details": [{"field": ..., "reason": ...}]}}
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fangkong.errors import ErrorDetail, FangkongError, Invalid
from fangkong.validation import details_from

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


def error_response(exc: FangkongError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.as_dict(), status_code=exc.status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(FangkongError)
    async def _fangkong(request: Request, exc: FangkongError) -> Response:
        if _wants_html(request):
            from fangkong.web.pages import error_page

            return error_page(request, exc)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            where = loc[0] if loc else "input"
            field = ".".join(loc[1:]) or where
            value = err.get("input")
            if isinstance(value, dict | list | bytes):
                value = None
            details.append(
                ErrorDetail(field, str(err.get("msg", "invalid")).removeprefix("Value error, "), value)
            )
        return error_response(Invalid("the request is not valid", details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        err = FangkongError(str(exc.detail), code=code, status=exc.status_code)
        if _wants_html(request) and exc.status_code in (401, 403, 404):
            from fangkong.web.pages import error_page

            return error_page(request, err)
        return JSONResponse(err.as_dict(), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        err = FangkongError("internal error; it has been logged", code="internal_error", status=500)
        return JSONResponse(err.as_dict(), status_code=500)


def _wants_html(request: Request) -> bool:
    """Pages get an error page; the API, /docs and /openapi.json get the JSON shape."""
    path = request.url.path
    return not (
        path.startswith("/api/")
        or path.startswith("/docs")
        or path.startswith("/openapi")
        or path.startswith("/static/")
    )


__all__ = ["details_from", "error_response", "install"]
