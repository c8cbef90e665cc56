"""Atomic files and safe names: an export never leaves a half-written file behind,
and a decrypted (attacker-chosen) name never escapes the output directory."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .._atomic import atomic_replace
from .._errors import UsageError

__all__ = ["atomic_open", "atomic_write_text", "safe_name"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_MAX_NAME = 120


def safe_name(name: str, *, prefix: str = "", fallback: str = "file") -> str:
    """A file name made from untrusted text: one path component, no dot-leading, bounded length.

    `prefix` (an id) keeps names unique when two items share a decrypted name.
    """
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    if not cleaned or set(cleaned) <= {"_"}:
        cleaned = fallback
    encoded = cleaned.encode("utf-8")[:_MAX_NAME]
    cleaned = encoded.decode("utf-8", "ignore").rstrip(" .") or fallback
    return f"{prefix}-{cleaned}" if prefix else cleaned


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside `path`; it replaces `path` only if the block succeeds."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {directory}: {exc.strerror}") from None
    with atomic_replace(path) as handle:
        yield handle


def atomic_write_text(path: Path, content: str) -> None:
    with atomic_open(path) as handle:
        handle.write(content.encode("utf-8"))
