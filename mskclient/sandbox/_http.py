"""HTTP plumbing of the sandbox: the error shape, bounded body reading, strict body validation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._errors import EnvelopeError
from .._profile import ENVELOPE_MAX_CHARS, ERROR_STATUS, is_valid_id
from ..crypto import Envelope, SealedEnvelope, Where, b64u_decode

__all__ = [
    "F",
    "HttpError",
    "bad_request",
    "check_id",
    "error_response",
    "json_object",
    "json_response",
    "json_text",
    "no_content",
    "parse_body",
    "read_body",
    "read_json",
    "v_bool",
    "v_color",
    "v_enum",
    "v_env",
    "v_id",
    "v_int",
    "v_iso",
    "v_key32",
    "v_number",
    "v_sealed",
    "v_str",
]


class HttpError(Exception):
    """An error answer in the profile's shape; raised anywhere in a handler."""

    def __init__(self, code: str, message: str, *, status: int | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status if status is not None else ERROR_STATUS[code]
        self.message = message
        self.retry_after = retry_after


def bad_request(message: str) -> NoReturn:
    raise HttpError("BAD_REQUEST", message)


def error_response(exc: HttpError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status, headers=headers)


def json_text(data: object) -> str:
    """JSON as the sandbox sends it (compact, UTF-8 text not escaped); streamed bodies use it too."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(data: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = json_text(data).encode("utf-8")
    return Response(body, status, headers=dict(headers or {}), media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)


def check_id(value: str, what: str = "resource") -> str:
    """A path id: anything not shaped like a profile id cannot exist, so 404."""
    if not is_valid_id(value):
        raise HttpError("NOT_FOUND", f"no such {what}")
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            bad_request("invalid Content-Length")
        if int(declared) > limit:
            raise HttpError("PAYLOAD_TOO_LARGE", f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError("PAYLOAD_TOO_LARGE", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _no_constants(name: str) -> NoReturn:
    bad_request(f"invalid JSON number {name}")


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The JSON object body of a request (400 unless it is exactly one JSON object)."""
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        bad_request("Content-Type must be application/json")
    raw = await read_body(request, limit)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        bad_request("body is not valid JSON")
    return json_object(data)


def json_object(data: Any) -> dict[str, Any]:
    """`data` if it is a JSON object holding only encodable text (no lone surrogates)."""
    if not isinstance(data, dict):
        bad_request("body must be a JSON object")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        bad_request("body holds text that is not valid Unicode (lone surrogates)")
    return data


# --- validators: each takes (field name, value) and returns the value to store ---------

Validator = Callable[[str, Any], Any]


@dataclass(frozen=True)
class F:
    """One writable body field: its validator, whether create needs it, whether null is allowed."""

    check: Validator
    required: bool = False
    nullable: bool = False


def parse_body(data: Mapping[str, Any], spec: Mapping[str, F], *, partial: bool = False) -> dict[str, Any]:
    """Validate `data` against `spec`: unknown fields, missing fields and wrong types are 400."""
    unknown = sorted(set(data) - set(spec))
    if unknown:
        bad_request(f"unknown field(s): {', '.join(unknown)[:200]}")
    out: dict[str, Any] = {}
    for name, f in spec.items():
        if name not in data:
            if f.required and not partial:
                bad_request(f"missing field: {name}")
            continue
        value = data[name]
        if value is None:
            if not f.nullable:
                bad_request(f"{name} must not be null")
            out[name] = None
        else:
            out[name] = f.check(name, value)
    if partial and not out:
        bad_request("nothing to change")
    return out


def v_str(max_len: int = 1000) -> Validator:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > max_len:
            bad_request(f"{name} must be a non-empty string of at most {max_len} characters")
        return value

    return check


def _envelope_text(name: str, value: Any, parse: Callable[[str, Where], object], kind: str, article: str) -> str:
    """Shape check shared by `v_env` and `v_sealed`; `kind` and its `article` word the errors."""
    if not isinstance(value, str):
        bad_request(f"{name} must be {article} {kind} string")
    if len(value) > ENVELOPE_MAX_CHARS:
        raise HttpError("PAYLOAD_TOO_LARGE", f"{name} is over {ENVELOPE_MAX_CHARS} characters")
    try:
        parse(value, Where("request", name))
    except EnvelopeError:
        bad_request(f"{name} is not a v1 {kind}")
    return value


def v_env(name: str, value: Any) -> str:
    """A symmetric envelope `v1.<nonce>.<ciphertext>`: shape only, the server cannot open it."""
    return _envelope_text(name, value, Envelope.parse, "envelope", "an")


def v_sealed(name: str, value: Any) -> str:
    """A sealed envelope (crypto_box_seal output): shape only, as for `v_env`."""
    return _envelope_text(name, value, SealedEnvelope.parse, "sealed envelope", "a")


def v_key32(name: str, value: Any) -> str:
    """base64url of exactly 32 bytes (public keys, authHash)."""
    if not isinstance(value, str) or len(value) > 64:
        bad_request(f"{name} must be base64url of 32 bytes")
    try:
        raw = b64u_decode(value)
    except ValueError:
        bad_request(f"{name} must be base64url of 32 bytes")
    if len(raw) != 32:
        bad_request(f"{name} must be base64url of 32 bytes")
    return value


def v_id(name: str, value: Any) -> str:
    if not is_valid_id(value):
        bad_request(f"{name} must be an id")
    return str(value)


def v_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        bad_request(f"{name} must be a boolean")
    return value


def v_int(low: int, high: int) -> Validator:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bad_request(f"{name} must be an integer from {low} to {high}")
        return value

    return check


def v_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1e15 < value < 1e15:
        bad_request(f"{name} must be a finite number")
    return float(value)


def v_iso(name: str, value: Any) -> str:
    """An ISO 8601 timestamp with an offset (stored as sent)."""
    if not isinstance(value, str) or len(value) > 40:
        bad_request(f"{name} must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        bad_request(f"{name} must be an ISO 8601 timestamp")
    if parsed.tzinfo is None:
        bad_request(f"{name} needs an offset (e.g. Z)")
    return value


_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def v_color(name: str, value: Any) -> str:
    if not isinstance(value, str) or _COLOR.fullmatch(value) is None:
        bad_request(f"{name} must be a color #rrggbb")
    return value.lower()


def v_enum(*choices: str) -> Validator:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            bad_request(f"{name} must be one of {', '.join(choices)}")
        return str(value)

    return check
