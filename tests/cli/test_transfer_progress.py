"""`msk cards attach` and `msk cards download` show a progress bar on a terminal (forced here with
rich's TTY_COMPATIBLE), none otherwise or with --json; the transfer completes either way."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from .conftest import User

_n = itertools.count()
#: Makes rich treat the test's stderr as a terminal (what a pty would do for a real one).
TERMINAL = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
PAYLOAD = bytes(range(256)) * 9000  # 2.3 MB: several secretstream chunks


@pytest.fixture(scope="module")
def card(ana: User) -> str:
    ws = ana.json("workspaces", "create", f"Transfers {next(_n)}")
    title = f"Board {next(_n)}"
    ana("boards", "create", title, "--workspace", ws["id"])
    ana("columns", "create", "Todo", "--board", title)
    return str(ana.json("cards", "create", "Mit Anhang", "--board", title, "--column", "Todo")["id"])


def _as_terminal(user: User, *args: str) -> tuple[str, str]:
    saved = dict(user.env)
    user.env.update(TERMINAL)
    try:
        ran = user(*args)
    finally:
        user.env.clear()
        user.env.update(saved)
    return ran.out, ran.err


def test_progress_bars_on_a_terminal(ana: User, card: str, tmp_path: Path) -> None:
    source = tmp_path / "großes Archiv.bin"
    source.write_bytes(PAYLOAD)
    out, err = _as_terminal(ana, "cards", "attach", card, str(source))
    assert "encrypting and uploading großes Archiv.bin" in err and "━" in err  # the bar, drawn on stderr
    assert "2.3/2.3 MB" in err  # and it reached the whole file
    assert out.startswith("Attached 'großes Archiv.bin' (2.3 MB, ")
    assert "großes Archiv.bin (application/octet-stream, 2.3 MB)" in ana("cards", "show", card).out

    target = tmp_path / "copy.bin"
    out, err = _as_terminal(ana, "cards", "download", card, "großes Archiv.bin", "--out", str(target))
    assert "downloading and decrypting großes Archiv.bin" in err and "━" in err
    assert "2.3/2.3 MB" in err
    assert out == f"Saved 'großes Archiv.bin' to {target} (2.3 MB)\n"
    assert target.read_bytes() == PAYLOAD


def test_no_progress_bar_off_a_terminal_or_with_json(ana: User, card: str, tmp_path: Path) -> None:
    source = tmp_path / "klein.txt"
    source.write_bytes(PAYLOAD[:5000])
    plain = ana("cards", "attach", card, str(source))
    assert plain.err == "" and plain.out.startswith("Attached 'klein.txt' (5 kB, ")
    _, err = _as_terminal(ana, "cards", "download", card, "klein.txt", "--out", str(tmp_path / "a.txt"), "--json")
    assert err == "" and (tmp_path / "a.txt").read_bytes() == PAYLOAD[:5000]
    _, err = _as_terminal(ana, "cards", "attach", card, str(source), "--name", "zwei.txt", "--json")
    assert err == ""


def test_a_failed_download_leaves_no_file(ana: User, card: str, tmp_path: Path) -> None:
    source = tmp_path / "drei.txt"
    source.write_bytes(PAYLOAD[:100])
    ana("cards", "attach", card, str(source))
    target = tmp_path / "missing-dir" / "x.bin"
    ran = ana("cards", "download", card, "drei.txt", "--out", str(target), ok=False)
    assert ran.code == 2 and ran.err == f"msk: error: cannot write {target}: No such file or directory\n"
    assert not target.parent.exists()
