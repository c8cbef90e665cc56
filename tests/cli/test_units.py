"""Sizes and counts as the CLI prints them."""

from __future__ import annotations

from mskclient.cli._units import counted, human_size


def test_sizes_are_human_readable() -> None:
    shown = [human_size(n) for n in (0, 1, 999, 1000, 1536, 24_000_000, 25 * 2**20, 10**12)]
    assert shown == ["0 bytes", "1 byte", "999 bytes", "1 kB", "1.5 kB", "24 MB", "26.2 MB", "1 TB"]


def test_counts_take_the_singular_for_one() -> None:
    assert [counted(n, "request") for n in (0, 1, 2, 1500)] == [
        "0 requests",
        "1 request",
        "2 requests",
        "1,500 requests",
    ]
    assert counted(1, "entry", "entries") == "1 entry" and counted(3, "entry", "entries") == "3 entries"
