"""A real sandbox with one account holding two workspaces, boards, cards and attachments."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli.conftest import PASSWORD, User, new_user

from mskclient import Client, Pacer
from mskclient.sandbox import Sandbox, SandboxConfig

__all__ = ["PASSWORD", "Account", "flip_byte", "member_data_offset"]

#: Several secretstream chunks (64 KiB each), with text that is not ASCII.
BIG = "Anhang — 日本語 ✓\n".encode() * 9000


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with Sandbox(SandboxConfig().lift_limits()) as url:
        yield url


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config")


@dataclass
class Account:
    user: User
    client: Client
    ids: dict[str, str]

    def run(self, *args: str, ok: bool = True, password: bool = False) -> tuple[int, str, str]:
        """`msk ARGS` as this account (MSK_PASSWORD set when `password`)."""
        saved = dict(self.user.env)
        if password:
            self.user.env["MSK_PASSWORD"] = PASSWORD
        try:
            ran = self.user(*args, ok=ok)
        finally:
            self.user.env.clear()
            self.user.env.update(saved)
        return ran.code, ran.out, ran.err


@pytest.fixture(scope="module")
def account(sandbox_url: str, config_dir: Path) -> Iterator[Account]:
    """Workspace W1 (board A: two cards, two attachments) and W2 (board C: one attachment)."""
    user = new_user(sandbox_url, config_dir, "bak")
    client = Client(sandbox_url, pacer=Pacer.unlimited())
    client.login(user.email, PASSWORD)
    w1, w2 = client.create_workspace("Werkstatt"), client.create_workspace("Zweiter Raum")
    a, c = client.create_board(w1.id, "Board A ✓"), client.create_board(w2.id, "Board C")
    todo = client.create_column(a.id, "Zu tun")
    first = client.create_card(todo.id, "Karte eins — ü", "Text mit **fett**")
    client.add_comment(first.id, "erster Kommentar")
    client.create_card(todo.id, "Karte zwei")
    big = client.upload_attachment(first.id, io.BytesIO(BIG), "gross.txt", "text/plain")
    small = client.upload_attachment(first.id, io.BytesIO(b"klein"), "klein.txt", "text/plain")
    other = client.create_card(client.create_column(c.id, "Spalte").id, "Karte auf C")
    third = client.upload_attachment(other.id, io.BytesIO(b"drei" * 1000), "drei.bin", "application/octet-stream")
    ids = {"W1": w1.id, "W2": w2.id, "A": a.id, "C": c.id, "big": big.id, "small": small.id, "third": third.id,
           "other": other.id}  # fmt: skip
    yield Account(user, client, ids)
    client.close()


def member_data_offset(path: Path, name: str) -> tuple[int, int]:
    """Where a member's bytes start in the archive file, and how many there are."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with path.open("rb") as handle:
        handle.seek(info.header_offset + 26)
        header = handle.read(4)
    name_length, extra_length = int.from_bytes(header[:2], "little"), int.from_bytes(header[2:], "little")
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


def flip_byte(source: Path, target: Path, name: str) -> None:
    """Copy `source` to `target` with one bit flipped in the middle of member `name`."""
    data = bytearray(source.read_bytes())
    start, size = member_data_offset(source, name)
    data[start + size // 2] ^= 0x01
    target.write_bytes(bytes(data))
