"""The one exception tree of mskclient.

Everything mskclient raises on purpose derives from `MskError`; foreign
exceptions (httpx, websockets, json, argon2, nacl) are translated where they
enter, so callers catch one base class::

    MskError
    ├── TransportError            network failure, timeout, dropped socket
    ├── ApiError                  the server answered with the error shape (has .status, .code)
    │   ├── AuthError             401: UNAUTHORIZED, TOTP_REQUIRED, INVALID_TOTP
    │   ├── ForbiddenError        403
    │   ├── NotFoundError         404
    │   ├── ConflictError         409 (stale If-Match, duplicate)
    │   ├── PayloadTooLargeError  413
    │   └── RateLimitError        429 (has .retry_after)
    ├── CryptoError
    │   ├── EnvelopeError         malformed, over-size or unsupported envelope
    │   │   └── UnsupportedVersionError
    │   ├── DecryptionError       authentication failed (names entity, id, field)
    │   ├── KdfParametersError    login-init asked for weaker (or absurd) KDF parameters
    │   ├── RecoveryKeyError      recovery key mistyped (bad symbol, length or check)
    │   └── KeyTrustError         a member's public key changed since it was pinned
    ├── ProtocolError             the server or a peer broke the profile (bad id, bad shape)
    └── UsageError                the caller asked for something impossible (bad input, config)

Envelope and decryption errors name the entity, id and field that failed,
never a key or any plaintext.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthError",
    "ConflictError",
    "CryptoError",
    "DecryptionError",
    "EnvelopeError",
    "ForbiddenError",
    "KdfParametersError",
    "KeyTrustError",
    "MskError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProtocolError",
    "RateLimitError",
    "RecoveryKeyError",
    "TransportError",
    "UnsupportedVersionError",
    "UsageError",
    "api_error",
]


class MskError(Exception):
    """Base of every error mskclient raises on purpose."""

    #: Exit code the `msk` command uses for this kind of error.
    exit_code = 1


class TransportError(MskError):
    """The server could not be reached, or the connection broke."""

    exit_code = 3


class ApiError(MskError):
    """The server answered with an error body `{"error": {"code", "message"}}`."""

    exit_code = 4

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message


class AuthError(ApiError):
    """Not logged in, wrong credentials or a TOTP is needed."""

    exit_code = 5


class ForbiddenError(ApiError):
    """The account may not do this (role or membership)."""


class NotFoundError(ApiError):
    """No such resource, or not visible to this account."""


class ConflictError(ApiError):
    """The resource changed since it was read (stale If-Match)."""

    exit_code = 6


class PayloadTooLargeError(ApiError):
    """The body or attachment is over the server's limit."""


class RateLimitError(ApiError):
    """Too many requests; `retry_after` seconds to wait, as the server said."""

    exit_code = 7

    def __init__(self, status: int, code: str, message: str, retry_after: float) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class CryptoError(MskError):
    """Something about keys or ciphertext is wrong."""

    exit_code = 8


class _FieldError(CryptoError):
    """A crypto error about one encrypted field of one entity."""

    def __init__(
        self, reason: str, *, entity: str = "?", entity_id: str | None = None, field: str = "?"
    ) -> None:
        where = f"{entity} {entity_id or '(new)'} field {field}"
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.entity = entity
        self.entity_id = entity_id
        self.field = field


class EnvelopeError(_FieldError):
    """The envelope text is malformed, over-size or of an unknown version."""


class UnsupportedVersionError(EnvelopeError):
    """The envelope carries a version this client does not speak."""


class DecryptionError(_FieldError):
    """The ciphertext did not authenticate under the expected key and context."""


class KdfParametersError(CryptoError):
    """The server announced KDF parameters outside the profile's range."""


class RecoveryKeyError(CryptoError):
    """The recovery key is mistyped: caught locally before any network call."""


class KeyTrustError(CryptoError):
    """A member's public key differs from the pinned one; run `msk members trust`."""


class ProtocolError(MskError):
    """The server or a peer sent something the profile does not allow."""

    exit_code = 9


class UsageError(MskError):
    """The request cannot be carried out as asked (bad argument, missing config)."""

    exit_code = 2


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
}


def api_error(status: int, code: str, message: str, retry_after: float = 0.0) -> ApiError:
    """The ApiError subclass for an error answer of the server."""
    if status == 429:
        return RateLimitError(status, code, message, retry_after)
    return _BY_STATUS.get(status, ApiError)(status, code, message)
