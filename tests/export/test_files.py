"""Atomic writes, safe names and streamed attachments."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import pytest

from mskclient._errors import DecryptionError, ProtocolError
from mskclient.crypto import AccountKeys, FileKey, encrypt_file
from mskclient.export import (
    ExportAttachment,
    ExportBoard,
    ExportCard,
    ExportColumn,
    ExportResult,
    Fetch,
    atomic_open,
    ciphertext_fetch,
    decrypt_document,
    safe_name,
    save_attachments,
    write_export,
)

from ._build import ATTACHMENT_PLAINTEXT, Built
from ._schema import errors, load_schema


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "file"),
        ("", "file"),
        ("a\\b:c\x00d", "a_b_c_d"),
        ("/", "file"),
        ("  .hidden ", "hidden"),
        ("Grüße.txt", "Grüße.txt"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_safe_name_bounds_length_without_breaking_utf8() -> None:
    name = safe_name("é" * 500, prefix="cabcdefgh")
    assert name.startswith("cabcdefgh-") and len(name.encode()) <= 130
    name.encode("utf-8")


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_open_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write(b"new but partial")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old" and _files(tmp_path) == ["export.json"]
    with atomic_open(target) as handle:
        handle.write(b"new")
    assert target.read_text() == "new" and _files(tmp_path) == ["export.json"]


def test_write_export_fails_before_touching_anything(
    built: Built, keys: AccountKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = decrypt_document(built.document, keys)
    write_export(result, "markdown", tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_export(result, "markdown", tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def _fetch_from(blobs: dict[str, bytes]) -> Fetch:
    return ciphertext_fetch(lambda attachment_id: io.BytesIO(blobs[attachment_id]))


def test_attachments_are_decrypted_inside_the_directory(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    out, files = tmp_path / "out", tmp_path / "out" / "files"
    result = save_attachments(decrypt_document(built.document, keys), files, _fetch_from(built.blobs), relative_to=out)
    (saved,) = files.iterdir()
    assert saved.name == f"{built.ids['attachment']}-_.._etc_pässwd"
    assert saved.read_bytes() == ATTACHMENT_PLAINTEXT
    paths = write_export(result, "json", out)
    doc = json.loads(paths[0].read_text(encoding="utf-8"))
    assert errors(doc, load_schema()) == []
    (attachment,) = doc["boards"][0]["columns"][0]["cards"][1]["attachments"]
    assert attachment["file"] == f"files/{saved.name}"
    (md,) = write_export(result, "markdown", out)
    assert f"[../../etc/pässwd]({quote(f'files/{saved.name}')})" in md.read_text(encoding="utf-8")


def test_truncated_attachment_leaves_no_file(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    blobs = {k: v[: len(v) - 100] for k, v in built.blobs.items()}
    with pytest.raises(DecryptionError):
        save_attachments(decrypt_document(built.document, keys), tmp_path, _fetch_from(blobs))
    assert _files(tmp_path) == []


def test_size_that_disagrees_with_metadata(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    built.card("c2")["attachments"][0]["size"] = 5
    with pytest.raises(ProtocolError, match="metadata says 5"):
        save_attachments(decrypt_document(built.document, keys), tmp_path, _fetch_from(built.blobs))
    assert _files(tmp_path) == []


def test_attachment_streaming_uses_constant_memory(tmp_path: Path) -> None:
    """8 MiB through the exporter's path with a peak far below the file size."""
    size = 8 * 1024 * 1024
    key = FileKey.generate()
    source, cipher = tmp_path / "plain", tmp_path / "cipher"
    with source.open("wb") as handle:
        for _ in range(size // 65536):
            handle.write(os.urandom(65536))
    with source.open("rb") as src, cipher.open("wb") as dst:
        encrypt_file(key, src, dst)

    def opener(_: str) -> BinaryIO:
        return cipher.open("rb")

    card = ExportCard(
        "ccardcard1",
        "t",
        "",
        (),
        (),
        None,
        None,
        {},
        (),
        (),
        (ExportAttachment("cattach001", "big.bin", "application/octet-stream", size, key),),
        False,
    )
    result = ExportResult(
        "now", (ExportBoard("cboard0001", "cws0000001", "b", "", False, (ExportColumn("ccol000001", "c", (card,)),)),)
    )
    tracemalloc.start()
    try:
        save_attachments(result, tmp_path / "files", ciphertext_fetch(opener))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, peak
    assert (tmp_path / "files" / "cattach001-big.bin").read_bytes() == source.read_bytes()


def test_attachment_whose_key_did_not_decrypt_is_skipped(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    attachment = built.card("c2")["attachments"][0]
    attachment["encFileKey"] = built.card("c2")["encTitle"]  # moved from another field: does not open
    result = save_attachments(decrypt_document(built.document, keys), tmp_path, _fetch_from(built.blobs))
    assert _files(tmp_path) == []
    assert [(f.entity, f.field) for f in result.failures] == [("attachment", "encFileKey")]
    (saved,) = result.boards[0].columns[0].cards[1].attachments
    assert saved.file is None and saved.name == "../../etc/pässwd"
