"""`msk demo` runs on its own (sandbox in a temp dir), exits 0, and ends with the next steps."""

from __future__ import annotations

import json
from pathlib import Path

from export._schema import errors, load_schema

from ._run import msk


def test_demo(tmp_path: Path) -> None:
    ran = msk("demo", "--out", str(tmp_path), env={"MSK_CONFIG_DIR": str(tmp_path / "config"), "COLUMNS": "200"})
    assert ran.code == 0, ran.err
    assert "None of these plaintexts appears in the server's database files" in ran.out
    assert "Anmeldung reparieren — ünïcödé" in ran.out and "v1." in ran.out
    doc = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert errors(doc, load_schema()) == [] and doc["errors"] == []
    assert sum(len(c["cards"]) for c in doc["boards"][0]["columns"]) == 3
    assert (tmp_path / "export.html").exists()
    assert not (tmp_path / "config").exists()  # the demo stores no session anywhere
    # it says the recovery key is throwaway, and ends with what to run next, exactly
    assert "This recovery key is throwaway: the demo account is deleted with its sandbox" in ran.out
    assert "1 board, 3 cards exported with " in ran.out and " requests in total" in ran.out
    assert "Notizen-Überblick.txt (1.9 kB)" in ran.out
    tail = ran.out.split("Next steps, on a server of your own:\n", 1)[1].splitlines()
    commands = [line.split("  # ")[0].strip() for line in tail]
    assert commands == [
        "msk sandbox &",
        "export MSK_SERVER=http://127.0.0.1:8765",
        "msk register you@example.org",
        'eval "$(msk unlock --timeout 15m)"',
        "msk export --all --format html --out my-export",
    ]
