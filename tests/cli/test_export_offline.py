"""`msk export --from-file`: the server's export file and the password, no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export._build import PASSWORD, Built, build
from export._schema import errors, load_schema

from ._run import msk


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built]:
    built = build()
    path = tmp_path_factory.mktemp("in") / "me-export.json"
    path.write_text(built.dumps(), encoding="utf-8")
    return path, built


def _env(tmp_path: Path) -> dict[str, str | None]:
    return {"MSK_PASSWORD": PASSWORD, "MSK_CONFIG_DIR": str(tmp_path / "config"), "MSK_SERVER": None}


def test_offline_json(export_file: tuple[Path, Built], tmp_path: Path) -> None:
    path, _ = export_file
    ran = msk("export", "--from-file", str(path), "--out", str(tmp_path / "out"), "--json", env=_env(tmp_path))
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["boards"] == 1 and summary["cards"] == 3 and summary["requests"] is None
    doc = json.loads((tmp_path / "out" / "export.json").read_text(encoding="utf-8"))
    assert errors(doc, load_schema()) == []
    assert doc["boards"][0]["title"] == "Roadmap 🚀"


def test_offline_every_format_and_selection(export_file: tuple[Path, Built], tmp_path: Path) -> None:
    path, built = export_file
    expected = {
        "json": "export.json",
        "markdown": f"{built.board_id}-Roadmap 🚀.md",
        "csv": "cards.csv",
        "html": "export.html",
    }
    for fmt, name in expected.items():
        out = tmp_path / fmt
        ran = msk(
            "export", "Roadmap 🚀", "--from-file", str(path), "--format", fmt, "--out", str(out), env=_env(tmp_path)
        )
        assert ran.code == 0, ran.err
        assert [p.name for p in out.iterdir()] == [name]
        assert "Exported 1 board, 3 cards from the file" in ran.out


def test_password_from_file_and_wrong_password(export_file: tuple[Path, Built], tmp_path: Path) -> None:
    path, _ = export_file
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    env = {**_env(tmp_path), "MSK_PASSWORD": None}
    ran = msk("export", "--from-file", str(path), "--password-file", str(secret), "--out", str(tmp_path / "a"), env=env)
    assert ran.code == 0, ran.err
    ran = msk("export", "--from-file", str(path), "--out", str(tmp_path / "b"), env={**env, "MSK_PASSWORD": "nope"})
    assert ran.code == 8 and "wrong password" in ran.err
    assert not (tmp_path / "b").exists()


def test_undecryptable_field_exit_code_and_strict(tmp_path: Path) -> None:
    built = build()
    card = built.card("c1")
    head, tail = card["encTitle"].rsplit(".", 1)
    card["encTitle"] = f"{head}.{'A' if tail[0] != 'A' else 'B'}{tail[1:]}"
    path = tmp_path / "tampered.json"
    path.write_text(built.dumps(), encoding="utf-8")
    ran = msk("export", "--from-file", str(path), "--out", str(tmp_path / "out"), env=_env(tmp_path))
    assert ran.code == 10
    assert f"card {built.ids['c1']} field encTitle" in ran.err
    assert "⚠ undecryptable" in (tmp_path / "out" / "export.json").read_text(encoding="utf-8")
    ran = msk("export", "--strict", "--from-file", str(path), "--out", str(tmp_path / "strict"), env=_env(tmp_path))
    assert ran.code == 8 and f"card {built.ids['c1']} field encTitle" in ran.err
    assert not (tmp_path / "strict").exists()


def test_bad_input(tmp_path: Path, export_file: tuple[Path, Built]) -> None:
    path, _ = export_file
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2", encoding="utf-8")
    ran = msk("export", "--from-file", str(garbage), env=_env(tmp_path))
    assert ran.code == 9 and "garbage.json is not a usable /me/export file: export: expected '{'" in ran.err
    garbage.write_bytes(path.read_bytes()[:-300])  # cut short
    ran = msk("export", "--from-file", str(garbage), "--out", str(tmp_path / "cut"), env=_env(tmp_path))
    assert ran.code == 9 and "is not a usable /me/export file" in ran.err
    assert not (tmp_path / "cut").exists()
    ran = msk("export", "--from-file", str(path), "--attachments", str(tmp_path), env=_env(tmp_path))
    assert ran.code == 2 and "needs the server" in ran.err
    ran = msk("export", "Nope", "--from-file", str(path), env=_env(tmp_path))
    assert ran.code == 2 and "no board named 'Nope'" in ran.err
    ran = msk("export", env=_env(tmp_path))
    assert ran.code == 2 and "what to export?" in ran.err


def test_offline_formats_in_one_run_and_no_silent_overwrite(export_file: tuple[Path, Built], tmp_path: Path) -> None:
    path, built = export_file
    out = tmp_path / "out"
    ran = msk("export", "--from-file", str(path), "--format", "markdown,html", "--out", str(out), env=_env(tmp_path))
    assert ran.code == 0, ran.err
    markdown = out / f"{built.board_id}-Roadmap 🚀.md"
    assert sorted(p.name for p in out.iterdir()) == sorted([markdown.name, "export.html"])
    before = markdown.read_bytes()
    again = msk("export", "--from-file", str(path), "--format", "markdown", "--out", str(out), env=_env(tmp_path))
    assert again.code == 2
    assert again.err == f"msk: error: {markdown} exists; pass --force to overwrite an earlier export\n"
    assert markdown.read_bytes() == before
    forced = msk("export", "--from-file", str(path), "--format", "markdown", "--out", str(out), "--force",
                 env=_env(tmp_path))  # fmt: skip
    assert forced.code == 0 and forced.out == f"Exported 1 board, 3 cards from the file to {markdown}\n"
