"""Pick things by id or by name, refusing ambiguity (`--board "Roadmap"`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from .._errors import UsageError
from .._profile import is_valid_id

__all__ = ["name_matches", "resolve"]


def name_matches(query: str, candidates: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The candidates `(id, name)` named `query`: exactly if any, else case-insensitively; both
    compared in Unicode NFC, so a title typed on macOS (decomposed) names the one the web app
    stored (composed)."""
    wanted = unicodedata.normalize("NFC", query)
    names = [(c, unicodedata.normalize("NFC", c[1])) for c in candidates]
    exact = [c for c, name in names if name == wanted]
    return exact or [c for c, name in names if name.casefold() == wanted.casefold()]


def resolve(kind: str, query: str, candidates: Sequence[tuple[str, str]]) -> str:
    """The id of the one candidate `(id, name)` whose id or name is `query`.

    An exact id wins; otherwise the name must match exactly one candidate (`name_matches`).
    No match or several are a UsageError listing them.
    """
    if is_valid_id(query) and any(cid == query for cid, _ in candidates):
        return query
    matches = name_matches(query, candidates)
    if len(matches) == 1:
        return matches[0][0]
    if not matches:
        known = ", ".join(f"{name!r} ({cid})" for cid, name in candidates[:20]) or "none"
        raise UsageError(f"no {kind} named {query!r}; known: {known}")
    listed = ", ".join(f"{name!r} ({cid})" for cid, name in matches)
    raise UsageError(f"{kind} name {query!r} is ambiguous: {listed}; give the id instead")
