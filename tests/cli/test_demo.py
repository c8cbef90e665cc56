"""`msk demo` runs on its own (sandbox in a temp dir) and exits 0."""

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
