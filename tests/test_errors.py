"""The one exception tree: shape, exit codes and the server-error mapping."""

from __future__ import annotations

import pytest

import mskclient
from mskclient import _errors

LEAVES = {
    _errors.TransportError: _errors.MskError,
    _errors.ApiError: _errors.MskError,
    _errors.AuthError: _errors.ApiError,
    _errors.CredentialsError: _errors.MskError,
    _errors.ForbiddenError: _errors.ApiError,
    _errors.NotFoundError: _errors.ApiError,
    _errors.ConflictError: _errors.ApiError,
    _errors.EditConflictError: _errors.ConflictError,
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
    _errors.OverLimitError: _errors.UsageError,
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
            _errors.CredentialsError,
            _errors.EditConflictError,
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


def test_a_refused_login_and_a_local_one_are_caught_alike() -> None:
    """The server's 401 is an AuthError; a locked profile found locally is a CredentialsError
    without an HTTP status in its text; `except CredentialsError` catches both, exit code 5."""
    server = _errors.api_error(401, "UNAUTHORIZED", "bad credentials")
    local = _errors.CredentialsError("profile default is locked; run `msk unlock`")
    assert isinstance(server, _errors.CredentialsError) and server.exit_code == local.exit_code == 5
    assert "(401)" in str(server) and str(local) == "profile default is locked; run `msk unlock`"


def test_only_an_edit_that_could_not_be_merged_is_exit_code_6() -> None:
    """A 409 for a duplicate (an email already registered) is a refusal like any other (4)."""
    duplicate = _errors.api_error(409, "CONFLICT", "an account with this email exists")
    edit = _errors.EditConflictError("card c1: the title was changed by someone else")
    assert duplicate.exit_code == 4 and edit.exit_code == 6 and isinstance(edit, _errors.ConflictError)
    assert str(edit) == "card c1: the title was changed by someone else"  # the client's word, no "(409)"
