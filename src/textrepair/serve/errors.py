"""Every error the service answers is JSON: {"error": {"code", "message", "detail"}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

# Pydantic error types on `texts` that deserve their own code.
_TEXT_ERRORS = {
    ("texts", "too_long"): "too_many_texts",
    ("texts", "too_short"): "no_texts",
    ("text", "string_too_long"): "text_too_long",
    ("text", "value_error"): "invalid_text",
    ("text", "string_unicode"): "invalid_text",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: dict | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "detail": detail}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.detail)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        error.status_code, "http_error"
    )
    return error_response(error.status_code, code, str(error.detail), headers=error.headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [_plain(e) for e in error.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the body is not valid JSON", errors)
    code = _code(errors[0]) if errors else "invalid_request"
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(422, code, f"{where}: {first.get('msg', 'invalid request')}", errors)


def _code(error: dict) -> str:
    loc = error.get("loc", ())
    field = "text" if len(loc) >= 3 and loc[1] == "texts" else (loc[1] if len(loc) > 1 else "")
    return _TEXT_ERRORS.get((str(field), error["type"]), "invalid_request")


def _plain(error: dict) -> dict:
    """A pydantic error without its input and context objects: they may not be JSON-safe, and
    echoing the input would put request text in responses and logs."""
    return {"type": error.get("type"), "loc": list(error.get("loc", ())), "msg": error.get("msg")}
