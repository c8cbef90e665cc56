"""Pick things by id or by name, refusing ambiguity (`--board "Roadmap"`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from .._errors import UsageError
from .._profile import is_valid_id

__all__ = ["resolve"]


def resolve(kind: str, query: str, candidates: Sequence[tuple[str, str]]) -> str:
    """The id of the one candidate `(id, name)` whose id or name is `query`.

    An exact id wins; otherwise the name must match exactly one candidate (case-sensitive
    first, then case-insensitive), both compared in Unicode NFC: a title typed on macOS
    (decomposed) names the card the web app stored (composed).  No match or several are a
    UsageError listing them.
    """
    if is_valid_id(query) and any(cid == query for cid, _ in candidates):
        return query
    wanted = unicodedata.normalize("NFC", query)
    names = [(c, unicodedata.normalize("NFC", c[1])) for c in candidates]
    matches = [c for c, name in names if name == wanted] or [
        c for c, name in names if name.casefold() == wanted.casefold()
    ]
    if len(matches) == 1:
        return matches[0][0]
    if not matches:
        known = ", ".join(f"{name!r} ({cid})" for cid, name in candidates[:20]) or "none"
        raise UsageError(f"no {kind} named {query!r}; known: {known}")
    listed = ", ".join(f"{name!r} ({cid})" for cid, name in matches)
    raise UsageError(f"{kind} name {query!r} is ambiguous: {listed}; give the id instead")
