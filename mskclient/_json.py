"""Checked reads of the JSON a server (or an export file) sent: one vocabulary, one wording.

Everything the server sends is untrusted.  These checks turn a wrong shape into
`ProtocolError("<entity>.<field>: <what>")`, never a crash or a wrong value; a caller whose
input has its own error type passes it as `error` (login-init answers raise
KdfParametersError).  Sans-I/O: crypto, client and export all read JSON through this module.

`Obj` reads one object field by field.  The functions do the same checks on a plain mapping
(`Obj`'s methods call them), for loops over thousands of items where an `Obj` per item would
cost too much: the export checks its cards inline and calls them only to raise.

A field with a default may be missing (numbers and lists: also null); without one, a missing
field is an error.  `opt_…` reads take null or missing as None.

`loads` parses with a nesting limit: the standard library's decoder recurses once per level,
so a few hundred kilobytes of `[` raise RecursionError, and a document a little less deep
still breaks every recursive walk after it (printing, `json.dumps`).  Profile-shaped JSON is
a handful of levels deep, so anything deeper than `JSON_MAX_DEPTH` is a ProtocolError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import MskError, ProtocolError
from ._profile import ID_PATTERN, JSON_MAX_DEPTH

__all__ = [
    "Json",
    "Obj",
    "check_depth",
    "fail",
    "flag",
    "ids",
    "integer",
    "json_array",
    "json_object",
    "loads",
    "mapping",
    "number",
    "obj_list",
    "opt_id",
    "opt_integer",
    "opt_text",
    "raw",
    "read_array",
    "text",
    "valid_id",
]

Json = Mapping[str, Any]
#: The exception a failed check raises, built from its one-line message.
ErrorType = Callable[[str], MskError]

_is_id = ID_PATTERN.fullmatch


def fail(entity: str, name: str, what: str, error: ErrorType = ProtocolError) -> MskError:
    """The error for field `name` of `entity`: "<entity>.<name>: <what>"."""
    return error(f"{entity}.{name}: {what}")


def json_object(value: object, what: str, error: ErrorType = ProtocolError) -> Json:
    """`value` if it is a JSON object (`what` names it in the error)."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise error(f"{what}: not a JSON object")
    return value


def json_array(value: object, what: str, error: ErrorType = ProtocolError) -> list[Any]:
    """`value` if it is a JSON array (`what` names it in the error)."""
    if type(value) is not list:
        raise error(f"{what}: not a JSON array")
    return value


def obj_list(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> list[Json]:
    """The array of objects `data[name]` (missing: empty), uncopied when every item is a dict."""
    value = data.get(name)
    if type(value) is not list:
        if value is None:
            return []
        value = json_array(value, f"{entity}.{name}", error)
    for item in value:
        if type(item) is not dict:  # json.loads gives dicts: then the list is returned uncopied
            return [json_object(item, f"{entity}.{name}[]", error) for item in value]
    return value


def read_array(data: object, entity: str, error: ErrorType = ProtocolError) -> list[Obj]:
    """A whole answer that is an array of `entity` objects."""
    return [Obj(item, entity, error) for item in json_array(data, f"{entity} list", error)]


def raw(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> Any:
    """`data[name]`, whatever its type; missing is an error."""
    if name not in data:
        raise fail(entity, name, "missing", error)
    return data[name]


def _wrong(data: Json, name: str, entity: str, what: str, error: ErrorType) -> MskError:
    """"missing" if `name` is absent, else the error saying what its value is not."""
    return fail(entity, name, "missing" if name not in data else what, error)


def text(data: Json, name: str, entity: str, default: str | None = None, error: ErrorType = ProtocolError) -> str:
    value = data.get(name, default)
    if type(value) is str or isinstance(value, str):
        return value
    raise _wrong(data, name, entity, "not a string", error)


def opt_text(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise fail(entity, name, "not a string", error)


def valid_id(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> str:
    """A profile id (the value is shown, cut short, in the error: it helps find a damaged record)."""
    value = data.get(name)
    if type(value) is str and _is_id(value) is not None:
        return value
    raise _wrong(data, name, entity, f"not a valid id: {str(value)[:80]!r}", error)


def opt_id(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> str | None:
    return None if data.get(name) is None else valid_id(data, name, entity, error)


def ids(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> list[str]:
    """An array of ids (null or missing: empty)."""
    value = data.get(name)
    if value is None:
        return []
    if type(value) is not list or not all(type(v) is str and _is_id(v) is not None for v in value):
        raise fail(entity, name, "not an array of valid ids", error)
    return value


def flag(data: Json, name: str, entity: str, default: bool | None = None, error: ErrorType = ProtocolError) -> bool:
    """A boolean; `default` stands only for a missing field (null is not a boolean)."""
    value = data.get(name, default)
    if value is True or value is False:
        return value
    raise _wrong(data, name, entity, "not a boolean", error)


def integer(data: Json, name: str, entity: str, default: int | None = None, error: ErrorType = ProtocolError) -> int:
    """A JSON integer (not a boolean, not 1.0); `default` stands for null or missing."""
    value = data.get(name)
    if type(value) is int:
        return value
    if value is None and default is not None:
        return default
    raise _wrong(data, name, entity, "not an integer", error)


def opt_integer(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> int | None:
    return None if data.get(name) is None else integer(data, name, entity, error=error)


def number(
    data: Json, name: str, entity: str, default: float | None = None, error: ErrorType = ProtocolError
) -> float:
    """A JSON number (not a boolean); `default` stands for null or missing."""
    value = data.get(name)
    if type(value) is int or type(value) is float:
        return float(value)
    if value is None and default is not None:
        return default
    raise _wrong(data, name, entity, "not a number", error)


def mapping(data: Json, name: str, entity: str, error: ErrorType = ProtocolError) -> Json:
    """A JSON object (null, missing or any empty value: empty)."""
    value = data.get(name) or {}
    if not isinstance(value, Mapping):
        raise fail(entity, name, "not a JSON object", error)
    return value


class Obj:
    """Typed, validating reads of one JSON object the server sent about `entity`."""

    __slots__ = ("data", "entity", "error")

    def __init__(self, data: object, entity: str, error: ErrorType = ProtocolError) -> None:
        self.data: Json = json_object(data, entity, error)
        self.entity = entity
        self.error = error

    def raw(self, name: str) -> Any:
        return raw(self.data, name, self.entity, self.error)

    def id(self, name: str = "id") -> str:
        return valid_id(self.data, name, self.entity, self.error)

    def opt_id(self, name: str) -> str | None:
        return opt_id(self.data, name, self.entity, self.error)

    def ids(self, name: str) -> tuple[str, ...]:
        return tuple(ids(self.data, name, self.entity, self.error))

    def text(self, name: str) -> str:
        return text(self.data, name, self.entity, error=self.error)

    def opt_text(self, name: str) -> str | None:
        return opt_text(self.data, name, self.entity, self.error)

    def flag(self, name: str, default: bool | None = None) -> bool:
        return flag(self.data, name, self.entity, default, self.error)

    def integer(self, name: str, default: int | None = None) -> int:
        return integer(self.data, name, self.entity, default, self.error)

    def opt_integer(self, name: str) -> int | None:
        return opt_integer(self.data, name, self.entity, self.error)

    def number(self, name: str, default: float | None = None) -> float:
        return number(self.data, name, self.entity, default, self.error)

    def mapping(self, name: str) -> Json:
        return mapping(self.data, name, self.entity, self.error)

    def child(self, name: str, entity: str) -> Obj:
        """The object `name`, read as `entity` (missing is an error)."""
        return Obj(self.raw(name), entity, self.error)

    def children(self, name: str, entity: str, default: bool = False) -> list[Obj]:
        """The array `name` of `entity` objects; with `default`, null or missing is empty."""
        value = self.data.get(name) if default else self.raw(name)
        return read_array([] if value is None else value, entity, self.error)


def loads(data: bytes | str, what: str) -> Any:
    """Parse `data` (the JSON of `what`); ProtocolError if it is not JSON or nests too deep."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"{what} is not JSON") from None
    except RecursionError:
        raise _too_deep(what) from None
    # nesting needs an opening bracket per level: a document with few needs no walk (most answers)
    openers = data.count(b"[") + data.count(b"{") if isinstance(data, bytes) else data.count("[") + data.count("{")
    if openers <= JSON_MAX_DEPTH:
        return value
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
