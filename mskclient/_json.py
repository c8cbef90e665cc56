"""JSON from the server or a peer, read with a nesting limit.

The standard library's decoder recurses once per nesting level: a few hundred kilobytes of
`[` raise RecursionError, and a document a little less deep still breaks every recursive
walk after it (printing, `json.dumps`).  Profile-shaped JSON is a handful of levels deep, so
anything deeper than `JSON_MAX_DEPTH` is refused as a ProtocolError, a one-line error.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import ProtocolError
from ._profile import JSON_MAX_DEPTH

__all__ = ["check_depth", "loads"]


def loads(data: bytes | str, what: str) -> Any:
    """Parse `data` (the JSON of `what`); ProtocolError if it is not JSON or nests too deep."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"{what} is not JSON") from None
    except RecursionError:
        raise _too_deep(what) from None
    return check_depth(value, what)


def check_depth(value: Any, what: str) -> Any:
    """`value` itself, once a walk without recursion has seen it nest at most `JSON_MAX_DEPTH` deep."""
    level: list[Any] = [value]
    for _ in range(JSON_MAX_DEPTH):
        inner: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                inner.extend(v for v in item if isinstance(v, dict | list))
        if not inner:
            return value
        level = inner
    raise _too_deep(what)


def _too_deep(what: str) -> ProtocolError:
    return ProtocolError(f"{what} nests deeper than {JSON_MAX_DEPTH} levels")
