"""`msk backup`, `msk backup verify` and `msk export --from-backup` against the real sandbox."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cli.conftest import new_user

from mskclient._profile import field
from mskclient.backup import FORMAT_VERSION, Problem, open_backup, verify_backup
from mskclient.crypto import CIPHER_CHUNK_SIZE, encrypt_field
from mskclient.crypto.hazmat import SECRETSTREAM_HEADERBYTES
from mskclient.export import keys_from_password, list_boards

from .conftest import BIG, PASSWORD, Account, flip_byte


@pytest.fixture(scope="module")
def full(account: Account, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backup") / "full.mskbackup"
    _, stdout, _ = account.run("backup", "--out", str(out), "--json")
    summary = json.loads(stdout)
    assert summary["counts"] == {"workspaces": 2, "boards": 2, "cards": 3, "attachments": 3}
    assert (summary["downloaded"], summary["reused"], summary["requests"]) == (3, 0, 4)
    return out


def _verify(account: Account, path: Path, *, password: bool) -> tuple[int, dict[str, object], str]:
    flag = "--decrypt" if password else "--no-decrypt"
    code, out, err = account.run("backup", "verify", str(path), flag, "--json", ok=False, password=password)
    return code, json.loads(out), err


def test_backup_holds_the_ciphertext_and_a_manifest(account: Account, full: Path) -> None:
    with open_backup(full) as backup:
        manifest = backup.manifest
        assert manifest.version == FORMAT_VERSION and manifest.account_email == account.user.email
        assert manifest.workspaces is None and manifest.reused == 0
        assert sorted(backup.names()) == sorted(
            ["export.json", "manifest.json", *(f"attachments/{account.ids[k]}" for k in ("big", "small", "third"))]
        )
        with zipfile.ZipFile(full) as archive:
            assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        with backup.open_attachment(account.ids["big"]) as stored:
            ciphertext = stored.read()
    assert BIG not in ciphertext and len(ciphertext) > len(BIG)  # ciphertext, as the server keeps it
    assert not list(full.parent.glob(".*.part"))


def test_verify_without_and_with_the_password(account: Account, full: Path) -> None:
    code, report, _ = _verify(account, full, password=False)
    assert code == 0 and report["ok"] and not report["decrypted"] and report["problems"] == []
    assert {b["id"]: (b["title"], b["cards"], b["attachments"]) for b in report["boards"]} == {
        account.ids["A"]: (None, 2, 2),
        account.ids["C"]: (None, 1, 1),
    }
    code, report, _ = _verify(account, full, password=True)
    assert code == 0 and report["ok"] and report["decrypted"]
    assert {b["title"]: b["cards"] for b in report["boards"]} == {"Board A ✓": 2, "Board C": 1}
    code, text, _ = account.run("backup", "verify", str(full), "--decrypt", password=True)
    assert "Board A ✓: 2 card(s), 2 attachment(s)" in text and "OK: every envelope and attachment stream opened" in text
    assert re.search(r"\(\d+(\.\d)? [kM]B read\)", text) and "bytes" not in text  # a size a person reads


@pytest.mark.parametrize("member", ["export.json", "big", "small", "third", "manifest.json"])
def test_a_flipped_byte_in_any_member_is_named(account: Account, full: Path, tmp_path: Path, member: str) -> None:
    name = member if member.endswith(".json") else f"attachments/{account.ids[member]}"
    damaged = tmp_path / "damaged.mskbackup"
    flip_byte(full, damaged, name)
    for password in (False, True):
        code, report, _ = _verify(account, damaged, password=password)
        assert code == 11 and not report["ok"]
        assert f"member {name}" in [p["where"] for p in report["problems"]]
    code, _, err = account.run("backup", "verify", str(damaged), "--no-decrypt", ok=False)
    assert code == 11 and f"problem: member {name}: " in err


def _rewrite(source: Path, target: Path, change: dict[str, bytes]) -> None:
    """A consistent archive (CRCs right) whose members `change` names have other bytes: what
    someone who edits the backup, rather than a failing disk, leaves."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, change.get(info.filename, old.read(info.filename)))


def test_altered_content_with_a_right_crc(account: Account, full: Path, tmp_path: Path) -> None:
    name = f"attachments/{account.ids['third']}"
    with zipfile.ZipFile(full) as archive:
        content = bytearray(archive.read(name))
    content[40] ^= 0x80
    altered = tmp_path / "altered.mskbackup"
    _rewrite(full, altered, {name: bytes(content)})
    _, report, _ = _verify(account, altered, password=False)
    assert report["problems"] == [
        {"where": f"member {name}", "reason": "its SHA-256 does not match the manifest (corrupted or altered)"}
    ]
    _, report, _ = _verify(account, altered, password=True)
    reason = "chunk does not authenticate (tampered, reordered or wrong key)"
    assert {"where": f"attachment {account.ids['third']} field content", "reason": reason} in report["problems"]


def _forge(full: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """`full` with its document edited by `change` and the manifest rewritten to match: what
    someone who may write the file can do, and only the keys can tell."""
    with open_backup(full) as backup, backup.open_export() as source:
        document = json.loads(source.read())
        manifest = backup.manifest
    change(document)
    text = json.dumps(document).encode()
    members = tuple(
        replace(m, size=len(text), sha256=hashlib.sha256(text).hexdigest()) if m.name == "export.json" else m
        for m in manifest.members
    )
    forged = json.dumps(replace(manifest, members=members).to_json()).encode()
    _rewrite(full, target, {"export.json": text, "manifest.json": forged})


def _cards(document: dict[str, Any], board_id: str) -> list[dict[str, Any]]:
    return next(b["cards"] for w in document["workspaces"] for b in w["boards"] if b["board"]["id"] == board_id)


def _card_with(document: dict[str, Any], board_id: str, attachment_id: str) -> dict[str, Any]:
    return next(c for c in _cards(document, board_id) if attachment_id in [a["id"] for a in c["attachments"]])


def _forged_problems(full: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[Problem]:
    """What verify with the password finds in `full` forged by `change` (nothing without it)."""
    forged = tmp_path / "forged.mskbackup"
    _forge(full, forged, change)
    assert verify_backup(forged).ok  # the hashes match: only the keys can tell
    report = verify_backup(forged, lambda: PASSWORD)
    assert report.manifest is not None and report.size == sum(m.size for m in report.manifest.members)
    return list(report.problems)


def test_an_envelope_altered_with_the_manifest_rewritten_is_named(account: Account, full: Path, tmp_path: Path) -> None:
    """Hashes only prove the file is as written; the password proves each envelope is the account's."""

    def alter(document: dict[str, Any]) -> None:
        card = _card_with(document, account.ids["C"], account.ids["third"])
        head, tail = card["encTitle"].rsplit(".", 1)
        card["encTitle"] = f"{head}.{'A' if tail[0] != 'A' else 'B'}{tail[1:]}"

    forged = tmp_path / "forged.mskbackup"
    _forge(full, forged, alter)
    code, report, _ = _verify(account, forged, password=False)
    assert code == 0  # nothing without the password can tell
    code, report, _ = _verify(account, forged, password=True)
    assert code == 11
    assert [p["where"] for p in report["problems"]] == [f"card {account.ids['other']} field encTitle"]


def test_an_envelope_moved_to_another_field_or_board_is_named(account: Account, full: Path, tmp_path: Path) -> None:
    """Each envelope opens only under its board's key and its field's associated data."""
    moved: dict[str, str] = {}

    def move(document: dict[str, Any]) -> None:
        first = _card_with(document, account.ids["A"], account.ids["big"])
        other = _card_with(document, account.ids["C"], account.ids["third"])
        moved["first"] = first["id"]
        first["encTitle"] = first["comments"][0]["encBody"]  # same key, another field's AD
        other["attachments"][0]["encName"] = first["attachments"][0]["encName"]  # same field, another board's key

    problems = _forged_problems(full, tmp_path, move)
    reason = "does not authenticate (wrong key, tampered or moved)"
    assert problems == [
        Problem(f"card {moved['first']} field encTitle", f"{reason} (board {account.ids['A']})"),
        Problem(f"attachment {account.ids['third']} field encName", f"{reason} (board {account.ids['C']})"),
    ]


def test_plaintexts_that_are_not_what_their_field_holds_are_named(account: Account, full: Path, tmp_path: Path) -> None:
    """Envelopes that open, sealed by a key holder, whose plaintext is no Yjs state or no file key."""
    first: dict[str, str] = {}

    def seal(document: dict[str, Any]) -> None:
        entries = list_boards(document, keys_from_password(document, PASSWORD))
        key = next(e.key for e in entries if e.board_id == account.ids["A"])
        assert key is not None
        card = _card_with(document, account.ids["A"], account.ids["big"])
        first["id"] = card["id"]
        card["encDescription"] = str(encrypt_field(key, b"no Yjs state", field("card", "encDescription")))
        small = next(a for a in card["attachments"] if a["id"] == account.ids["small"])
        small["encFileKey"] = str(encrypt_field(key, b"short", field("attachment", "encFileKey")))

    board = f"(board {account.ids['A']})"
    assert _forged_problems(full, tmp_path, seal) == [
        Problem(f"card {first['id']} field encDescription", f"plaintext is not a Yjs document {board}"),
        Problem(f"attachment {account.ids['small']} field encFileKey", f"not a 32-byte file key {board}"),
    ]


@pytest.mark.parametrize("wrong_key", ["first", "last"])
def test_an_attachment_given_twice_is_checked_with_its_last_file_key(
    account: Account, full: Path, tmp_path: Path, wrong_key: str
) -> None:
    """The stream is opened with the key of the document's last attachment of that id, as an export does."""

    def repeat(document: dict[str, Any]) -> None:
        cards = _cards(document, account.ids["A"])
        holder = _card_with(document, account.ids["A"], account.ids["big"])
        other = next(c for c in cards if c is not holder)
        big, small = (next(a for a in holder["attachments"] if a["id"] == account.ids[n]) for n in ("big", "small"))
        other["attachments"] = [{**big, "encFileKey": small["encFileKey"]}]  # the key of another attachment
        cards[:] = [other, holder] if wrong_key == "first" else [holder, other]

    problems = _forged_problems(full, tmp_path, repeat)
    reason = "chunk does not authenticate (tampered, reordered or wrong key)"
    expected = [Problem(f"attachment {account.ids['big']} field content", reason)]
    assert problems == (expected if wrong_key == "last" else [])


def test_a_stream_cut_at_a_chunk_is_named(account: Account, full: Path, tmp_path: Path) -> None:
    """A stream without its final chunk, the manifest rewritten to match: truncated."""
    name = f"attachments/{account.ids['big']}"
    with open_backup(full) as backup, backup.open_attachment(account.ids["big"]) as stored:
        cut = stored.read()[: SECRETSTREAM_HEADERBYTES + 2 * CIPHER_CHUNK_SIZE]
        manifest = backup.manifest
    members = tuple(
        replace(m, size=len(cut), sha256=hashlib.sha256(cut).hexdigest()) if m.name == name else m
        for m in manifest.members
    )
    altered = tmp_path / "cut.mskbackup"
    _rewrite(
        full, altered, {name: cut, "manifest.json": json.dumps(replace(manifest, members=members).to_json()).encode()}
    )
    report = verify_backup(altered, lambda: PASSWORD)
    assert Problem(f"attachment {account.ids['big']} field content", "truncated (no final chunk)") in report.problems
    assert [p.where for p in report.problems] == [f"member {name}", f"attachment {account.ids['big']} field content"]


def test_verify_with_the_unlocked_keys(account: Account, full: Path, sandbox_url: str, config_dir: Path) -> None:
    """MSK_SESSION (`msk unlock`) opens everything without the password; another account's keys are refused."""
    code, out, _ = account.run("backup", "verify", str(full), "--json")
    assert code == 0 and json.loads(out)["decrypted"]
    stranger = new_user(sandbox_url, config_dir, "other")
    ran = stranger("backup", "verify", str(full), ok=False)
    assert ran.code == 2 and f"not those of {account.user.email}" in ran.err


def test_wrong_password(account: Account, full: Path) -> None:
    saved = dict(account.user.env)
    account.user.env["MSK_PASSWORD"] = "not the password"
    try:
        ran = account.user("backup", "verify", str(full), "--decrypt", ok=False)
    finally:
        account.user.env.clear()
        account.user.env.update(saved)
    assert ran.code == 8 and "wrong password" in ran.err


def test_incremental_copies_known_attachments(account: Account, full: Path, tmp_path: Path) -> None:
    new = account.client.upload_attachment(account.ids["other"], io.BytesIO(b"neu"), "neu.txt", "text/plain")
    second = tmp_path / "second.mskbackup"
    _, out, _ = account.run("backup", "--out", str(second), "--incremental", str(full), "--json")
    summary = json.loads(out)
    # one export read and one content read (the new attachment): the three others are copied
    assert (summary["downloaded"], summary["reused"], summary["requests"]) == (1, 3, 2)
    assert summary["counts"]["attachments"] == 4
    code, report, _ = _verify(account, second, password=True)
    assert code == 0 and report["ok"]
    with open_backup(full) as old, open_backup(second) as fresh:
        name = f"attachments/{account.ids['big']}"
        assert old.manifest.member(name) == fresh.manifest.member(name)
        assert fresh.has_attachment(new.id) and not old.has_attachment(new.id)
    account.client.delete_attachment(new.id)


def test_incremental_refuses_a_damaged_earlier_backup(account: Account, full: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mskbackup"
    name = f"attachments/{account.ids['small']}"
    flip_byte(full, damaged, name)
    target = tmp_path / "next.mskbackup"
    code, _, err = account.run("backup", "--out", str(target), "--incremental", str(damaged), ok=False)
    assert code == 9 and f"member {name} does not match its SHA-256" in err
    assert not target.exists() and not list(tmp_path.glob(".*.part"))


def test_one_workspace(account: Account, tmp_path: Path) -> None:
    out = tmp_path / "w2.mskbackup"
    _, stdout, _ = account.run("backup", "--out", str(out), "--workspace", account.ids["W2"], "--json")
    assert json.loads(stdout)["counts"] == {"workspaces": 1, "boards": 1, "cards": 1, "attachments": 1}
    report = verify_backup(out, lambda: PASSWORD)
    assert report.ok and [(b.title, b.cards) for b in report.boards] == [("Board C", 1)]
    with open_backup(out) as backup:
        assert backup.manifest.workspaces == (account.ids["W2"],)
        assert backup.manifest.attachment_ids() == (account.ids["third"],)
    # the filtered document is read by the offline export as the server's is
    _, stdout, _ = account.run(
        "export", "--from-backup", str(out), "--out", str(tmp_path / "e"), "--json", password=True
    )
    assert (json.loads(stdout)["boards"], json.loads(stdout)["cards"]) == (1, 1)
    # by name, with the keys of the unlocked profile
    by_name = tmp_path / "by-name.mskbackup"
    _, stdout, _ = account.run("backup", "--out", str(by_name), "--workspace", "Zweiter Raum", "--json")
    assert json.loads(stdout)["counts"]["boards"] == 1
    code, _, err = account.run("backup", "--out", str(tmp_path / "x"), "--workspace", "cnosuchworkspace1", ok=False)
    assert code == 2 and "workspace cnosuchworkspace1 is not in this account's export" in err
    assert not (tmp_path / "x").exists()


def test_export_from_backup_equals_the_online_export(account: Account, full: Path, tmp_path: Path) -> None:
    account.run("export", "--all", "--out", str(tmp_path / "online" / "out"),
                "--attachments", str(tmp_path / "online" / "files"))  # fmt: skip
    offline_args = ("--out", str(tmp_path / "offline" / "out"), "--attachments", str(tmp_path / "offline" / "files"))
    _, out, _ = account.run("export", "--from-backup", str(full), *offline_args, "--json", password=True)
    assert json.loads(out)["attachments"] == 3
    online, offline = (
        (json.loads((tmp_path / d / "out" / "export.json").read_text("utf-8"))) for d in ("online", "offline")
    )
    online.pop("exportedAt"), offline.pop("exportedAt")
    assert online == offline
    files = {p.name: p.read_bytes() for p in (tmp_path / "offline" / "files").iterdir()}
    assert files == {p.name: p.read_bytes() for p in (tmp_path / "online" / "files").iterdir()}
    assert files[f"{account.ids['big']}-gross.txt"] == BIG


def test_export_from_backup_keeps_an_earlier_export(account: Account, full: Path, tmp_path: Path) -> None:
    out, files = tmp_path / "out", tmp_path / "files"
    args = ("export", "--from-backup", str(full), "--out", str(out), "--attachments", str(files), "--format", "json")
    account.run(*args, password=True)
    before = {p: p.read_bytes() for p in [*out.iterdir(), *files.iterdir()]}
    code, _, err = account.run(*args, ok=False, password=True)
    assert code == 2
    assert err == f"msk: error: {out / 'export.json'} exists; pass --force to overwrite an earlier export\n"
    code, _, err = account.run(*args[:3], "--out", str(tmp_path / "new"), "--attachments", str(files), ok=False)
    assert code == 2 and f"{min(files.iterdir())} exists; pass --force" in err and not (tmp_path / "new").exists()
    assert {p: p.read_bytes() for p in [*out.iterdir(), *files.iterdir()]} == before
    account.run(*args, "--force", password=True)


def test_overwrite_and_usage(account: Account, full: Path, tmp_path: Path) -> None:
    code, _, err = account.run("backup", "--out", str(full), ok=False)
    assert code == 2 and "exists; pass --force" in err
    code, _, err = account.run("backup", ok=False)
    assert code == 2 and "give --out FILE" in err
    code, _, err = account.run("export", "--from-backup", str(full), "--from-file", str(full), ok=False)
    assert code == 2 and "not both" in err


def test_truncated_or_foreign_files(account: Account, full: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mskbackup"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    other_format = tmp_path / "other.zip"
    with zipfile.ZipFile(other_format, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "something-else", "version": 1}))
    newer = tmp_path / "newer.mskbackup"
    with zipfile.ZipFile(newer, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "mskclient-backup", "version": FORMAT_VERSION + 1}))
    plain = tmp_path / "export.json"
    plain.write_text("{}", encoding="utf-8")
    expected = {
        cut: "is not an mskclient backup (not a ZIP archive, or truncated)",
        foreign: "is not an mskclient backup (it has no manifest.json)",
        other_format: "is not an mskclient backup (its manifest names another format)",
        newer: f"is a backup of format version {FORMAT_VERSION + 1}; this mskclient reads up to {FORMAT_VERSION}",
        plain: "is not an mskclient backup (not a ZIP archive, or truncated)",
    }
    for path, message in expected.items():
        for args in (("backup", "verify", str(path), "--no-decrypt"), ("export", "--from-backup", str(path))):
            code, _, err = account.run(*args, ok=False, password=True)
            assert code == 9 and message in err, (args, err)
