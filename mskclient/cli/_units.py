"""Numbers as a person reads them: sizes in kB/MB/GB, counts with the noun in the right number."""

from __future__ import annotations

from rich.filesize import decimal

__all__ = ["counted", "human_size"]


def human_size(size: int) -> str:
    """`24 MB`, `1.5 kB`, `1 byte`: decimal units, as rich's progress bars show transfers."""
    return decimal(size, precision=1).replace(".0 ", " ")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 request`, `3 requests`, `0 requests`."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"
