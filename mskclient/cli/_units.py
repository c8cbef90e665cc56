"""Numbers as a person reads them: sizes in kB/MB/GB, counts with the noun in the right number."""

from __future__ import annotations

from rich.filesize import decimal

__all__ = ["counted", "human_size", "paced_time"]


def human_size(size: int) -> str:
    """`24 MB`, `1.5 kB`, `1 byte`: decimal units, as rich's progress bars show transfers."""
    return decimal(size, precision=1).replace(".0 ", " ")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 request`, `3 requests`, `0 requests`."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def paced_time(mutations: int, seconds: float, limit: tuple[int, float] | None) -> str:
    """`86 mutations, about 1.5 min at the server's limit (60 per 60 s)` (under a minute, in
    seconds, not `0.0 min`); with no limit set, no time at all (a bulk run then goes as fast
    as the server answers)."""
    if limit is None:
        return f"{counted(mutations, 'mutation')}, not paced (no limit set)"
    per = f"{limit[0]} per {limit[1]:g} s"
    if seconds < 1:  # within the limit's window: the requests go out at once
        when = "under a second"
    else:
        when = f"about {seconds:.0f} s" if seconds < 60 else f"about {seconds / 60:.1f} min"
    return f"{counted(mutations, 'mutation')}, {when} at the server's limit ({per})"
