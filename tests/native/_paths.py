"""Helpers to run a batch on a chosen path (the C extension or the pure-Python loop) and compare results."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from mskclient._errors import CryptoError
from mskclient.crypto import _batch
from mskclient.crypto.hazmat import uses_native

PATHS = ("native", "pure")


@contextmanager
def on_path(name: str) -> Iterator[None]:
    """Select a path for the duration (no monkeypatch: usable inside hypothesis tests)."""
    saved = os.environ.pop(_batch.NO_NATIVE_ENV, None)
    if name == "pure":
        os.environ[_batch.NO_NATIVE_ENV] = "1"
    try:
        # The native param must fail, not skip, when the extension is missing: it is built here.
        assert uses_native() is (name == "native"), "mskclient._native is not built"
        yield
    finally:
        os.environ.pop(_batch.NO_NATIVE_ENV, None)
        if saved is not None:
            os.environ[_batch.NO_NATIVE_ENV] = saved


def outcome(result: bytes | CryptoError) -> object:
    """A comparable form of one batch result: the plaintext, or everything an error carries."""
    if isinstance(result, bytes):
        return result
    assert isinstance(result, CryptoError)
    return (type(result), result.args, result.reason, result.entity, result.entity_id, result.field)
