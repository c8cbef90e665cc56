"""The one exception tree: shape, exit codes and the server-error mapping."""

from __future__ import annotations

import pytest

import mskclient
from mskclient import _errors

LEAVES = {
    _errors.TransportError: _errors.MskError,
    _errors.ApiError: _errors.MskError,
    _errors.AuthError: _errors.ApiError,
    _errors.ForbiddenError: _errors.ApiError,
    _errors.NotFoundError: _errors.ApiError,
    _errors.ConflictError: _errors.ApiError,
    _errors.PayloadTooLargeError: _errors.ApiError,
    _errors.RateLimitError: _errors.ApiError,
    _errors.CryptoError: _errors.MskError,
    _errors.EnvelopeError: _errors.CryptoError,
    _errors.UnsupportedVersionError: _errors.EnvelopeError,
    _errors.DecryptionError: _errors.CryptoError,
    _errors.KdfParametersError: _errors.CryptoError,
    _errors.RecoveryKeyError: _errors.CryptoError,
    _errors.KeyTrustError: _errors.CryptoError,
    _errors.ProtocolError: _errors.MskError,
    _errors.UsageError: _errors.MskError,
}


@pytest.mark.parametrize(("cls", "parent"), LEAVES.items(), ids=lambda c: getattr(c, "__name__", ""))
def test_tree_shape(cls: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(cls, parent)
    assert cls.__name__ in mskclient.__all__
    assert getattr(mskclient, cls.__name__) is cls


def test_every_error_is_drawn_in_the_module_docstring() -> None:
    doc = _errors.__doc__ or ""
    for cls in LEAVES:
        assert cls.__name__ in doc


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "BAD_REQUEST", _errors.ApiError),
        (401, "UNAUTHORIZED", _errors.AuthError),
        (401, "TOTP_REQUIRED", _errors.AuthError),
        (403, "FORBIDDEN", _errors.ForbiddenError),
        (404, "NOT_FOUND", _errors.NotFoundError),
        (409, "CONFLICT", _errors.ConflictError),
        (413, "PAYLOAD_TOO_LARGE", _errors.PayloadTooLargeError),
        (429, "RATE_LIMITED", _errors.RateLimitError),
        (500, "INTERNAL", _errors.ApiError),
    ],
)
def test_api_error_maps_status(status: int, code: str, cls: type[_errors.ApiError]) -> None:
    err = _errors.api_error(status, code, "msg", retry_after=3)
    assert type(err) is cls
    assert (err.status, err.code, err.message) == (status, code, "msg")
    assert code in str(err)
    if isinstance(err, _errors.RateLimitError):
        assert err.retry_after == 3


def test_exit_codes_are_distinct_per_family() -> None:
    codes = {
        cls.exit_code
        for cls in (
            _errors.MskError,
            _errors.UsageError,
            _errors.TransportError,
            _errors.ApiError,
            _errors.AuthError,
            _errors.ConflictError,
            _errors.RateLimitError,
            _errors.CryptoError,
            _errors.ProtocolError,
        )
    }
    assert len(codes) == 9


def test_field_errors_name_entity_id_and_field() -> None:
    err = _errors.DecryptionError("does not authenticate", entity="card", entity_id="cabc12345", field="encTitle")
    assert str(err) == "card cabc12345 field encTitle: does not authenticate"
    assert (err.entity, err.entity_id, err.field) == ("card", "cabc12345", "encTitle")
