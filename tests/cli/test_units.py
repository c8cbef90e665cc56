"""Sizes, counts and a bulk plan's time as the CLI prints them."""

from __future__ import annotations

from mskclient.cli._units import counted, human_size, paced_time


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


def test_a_plans_time_is_given_only_under_a_limit() -> None:
    paced = paced_time(8028, 8920.0, (54, 60.0))
    assert paced == "8,028 mutations, about 148.7 min at the server's limit (54 per 60 s)"
    assert paced_time(70, 3.3, (54, 60.0)) == "70 mutations, about 3 s at the server's limit (54 per 60 s)"
    assert paced_time(3, 0.0, (54, 60.0)) == "3 mutations, under a second at the server's limit (54 per 60 s)"
    # with the limit off (MSK_MUTATION_LIMIT=off) there is no time to give, not "0.0 min"
    assert paced_time(86, 0.0, None) == "86 mutations, not paced (no limit set)"
