from __future__ import annotations

import copy

import pytest

from mskclient.crypto import AccountKeys
from mskclient.export import keys_from_password

from ._build import PASSWORD, Built, build

_BUILT: list[Built] = []
_KEYS: list[AccountKeys] = []


@pytest.fixture
def built() -> Built:
    """A fresh deep copy of one encrypted export document (built once: the KDF is slow)."""
    if not _BUILT:
        _BUILT.append(build())
        _KEYS.append(keys_from_password(_BUILT[0].document, PASSWORD))
    b = _BUILT[0]
    return Built(copy.deepcopy(b.document), b.board_id, b.board_key, dict(b.ids), dict(b.blobs))


@pytest.fixture
def keys(built: Built) -> AccountKeys:
    return _KEYS[0]
