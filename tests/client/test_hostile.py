"""A hostile server (a proxy editing the real sandbox's answers): each attack is a clear error, nothing partial."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _accounts import PASSWORD, Account, register
from _hostile import HostileTransport, json_edit, substitute_lookup_key

from mskclient import (
    Client,
    CredentialsError,
    DecryptionError,
    KdfParametersError,
    KeyTrustError,
    Pacer,
    ProtocolError,
    TrustStore,
    UsageError,
)
from mskclient.crypto import KeyPair, b64u_encode, fingerprint


@pytest.fixture(scope="module")
def board(victim: Account) -> dict[str, Any]:
    c = victim.client
    ws = c.create_workspace("Hostile")
    board = c.create_board(ws.id, "Target")
    col = c.create_column(board.id, "Col")
    first = c.create_card(col.id, "first")
    second = c.create_card(col.id, "second")
    return {"ws": ws.id, "board": board.id, "col": col.id, "cards": [first.id, second.id]}


@pytest.fixture(autouse=True)
def _honest_again(hostile: HostileTransport) -> Iterator[None]:
    yield
    hostile.edit = None


def _flip(envelope: str) -> str:
    head, nonce, body = envelope.split(".")
    return ".".join((head, nonce, ("B" if body[0] == "A" else "A") + body[1:]))


def test_tampered_field(victim: Account, board: dict[str, Any], hostile: HostileTransport) -> None:
    def tamper(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cards[0]["encTitle"] = _flip(cards[0]["encTitle"])
        return cards

    hostile.edit = json_edit("/cards", tamper)
    with pytest.raises(DecryptionError) as caught:
        victim.client.cards(board["board"])
    assert caught.value.entity == "card" and caught.value.field == "encTitle"
    assert caught.value.entity_id == board["cards"][0]


def test_fields_swapped_between_entities(
    sandbox_url: str, victim: Account, board: dict[str, Any], hostile: HostileTransport
) -> None:
    """A column title moved into a card title: same board key, other associated data."""
    cookie = {"Cookie": f"msk_session={victim.client.token}"}
    column_title = httpx.get(f"{sandbox_url}/api/boards/{board['board']}/columns", headers=cookie).json()[0]["encTitle"]

    def swap(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cards[1]["encTitle"] = column_title
        return cards

    hostile.edit = json_edit("/cards", swap)
    with pytest.raises(DecryptionError, match=board["cards"][1]):
        victim.client.cards(board["board"])


def test_an_answer_echoing_our_envelopes_in_swapped_fields_is_refused(
    victim: Account, board: dict[str, Any], hostile: HostileTransport
) -> None:
    """The texts just sealed are known, but only in the field they were sealed for."""

    def swap(created: dict[str, Any]) -> dict[str, Any]:
        created["encTitle"], created["encDescription"] = created["encDescription"], created["encTitle"]
        return created

    hostile.edit = json_edit("/boards", swap, method="POST")
    with pytest.raises(DecryptionError) as caught:
        victim.client.create_board(board["ws"], "a title", "a description")
    assert caught.value.entity == "board" and caught.value.field in {"encTitle", "encDescription"}


def test_kdf_downgrade_is_refused_before_any_login(
    sandbox_url: str, victim: Account, hostile: HostileTransport
) -> None:
    def weaken(answer: dict[str, Any]) -> dict[str, Any]:
        answer["kdf"]["memoryKiB"] = 1024
        answer["kdf"]["iterations"] = 1
        return answer

    hostile.edit = json_edit("/auth/login-init", weaken, method="POST")
    hostile.seen.clear()
    with (
        Client(sandbox_url, transport=hostile, pacer=Pacer.unlimited()) as fresh,
        pytest.raises(KdfParametersError, match="downgrade"),
    ):
        fresh.login(victim.email, PASSWORD)
    assert ("POST", "/api/auth/login") not in hostile.seen  # no authHash left the client


def test_replaced_member_public_key_blocks_sealing(
    sandbox_url: str, victim: Account, board: dict[str, Any], hostile: HostileTransport, tmp_path: Path
) -> None:
    carol = register(sandbox_url, "carol")
    carol.client.close()
    victim.client.core.trust = TrustStore(tmp_path / "pins.json")
    victim.client.invite(board["ws"], carol.email)  # honest server: carol's key pinned on first use
    second_ws = victim.client.create_workspace("Second")

    attacker = b64u_encode(KeyPair.generate().public)

    def replace_key(answer: dict[str, Any]) -> dict[str, Any]:
        answer["publicKey"] = attacker
        return answer

    def replace_member_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "publicKey": attacker} if row["email"] == carol.email else row for row in rows]

    hostile.edit = json_edit("/users/lookup", replace_key)
    with pytest.raises(KeyTrustError, match="changed"):
        victim.client.invite(second_ws.id, carol.email)
    hostile.edit = json_edit("/members", replace_member_key)
    listed = {m.email: m for m in victim.client.members(board["ws"])}
    assert not victim.client.key_trusted(listed[carol.email]) and victim.client.key_trusted(listed[victim.email])
    hostile.edit = None
    assert [m.email for m in victim.client.members(second_ws.id)] == [victim.email]  # nothing was sealed

    hostile.edit = json_edit("/users/lookup", replace_key)
    accepted = victim.client.trust_member(carol.email)  # the user explicitly accepts the new key
    assert victim.client.key_trusted(accepted)


def test_malformed_id_in_a_response(victim: Account, board: dict[str, Any], hostile: HostileTransport) -> None:
    def bad_id(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cards[0]["columnId"] = "../../me"
        return cards

    hostile.edit = json_edit("/cards", bad_id)
    with pytest.raises(ProtocolError, match="columnId"):
        victim.client.cards(board["board"])

    hostile.edit = json_edit("/workspaces", lambda rows: [{**rows[0], "id": "x y"}, *rows[1:]])
    with pytest.raises(ProtocolError):
        victim.client.workspaces()


def test_truncated_attachment_writes_nothing(
    victim: Account, board: dict[str, Any], hostile: HostileTransport, tmp_path: Path
) -> None:
    payload = os.urandom(200_000)
    attachment = victim.client.upload_attachment(board["cards"][0], io.BytesIO(payload), "data.bin")

    def truncate(request: Any, response: Any, body: bytes) -> bytes | None:
        return body[: len(body) - 5000] if request.url.path.endswith("/content") else None

    hostile.edit = truncate
    target = tmp_path / "out.bin"
    with pytest.raises(DecryptionError, match="attachment"):
        victim.client.save_attachment(attachment.id, target)
    assert list(tmp_path.iterdir()) == []  # no file, no temp file

    def drop_last_chunk(request: Any, response: Any, body: bytes) -> bytes | None:
        return body[: 24 + 65536 + 17] if request.url.path.endswith("/content") else None

    hostile.edit = drop_last_chunk  # ends exactly on a chunk boundary: still no final tag
    with pytest.raises(DecryptionError, match="truncated"):
        victim.client.save_attachment(attachment.id, target)
    assert list(tmp_path.iterdir()) == []

    hostile.edit = None
    victim.client.save_attachment(attachment.id, target)
    assert target.read_bytes() == payload


def test_truncated_or_tampered_export_stream(victim: Account, board: dict[str, Any], hostile: HostileTransport) -> None:
    """`/me/export` is decrypted while it streams: a cut or damaged body is an error, never a partial export."""
    from mskclient.export import export_online

    def cut(request: Any, response: Any, body: bytes) -> bytes | None:
        return body[: len(body) * 2 // 3] if request.url.path.endswith("/me/export") else None

    hostile.edit = cut
    with pytest.raises(ProtocolError, match="export"):
        export_online(victim.client, boards=[board["board"]], strategy="export")

    hostile.edit = json_edit("/me/export", lambda doc: {**doc, "workspaces": [{**doc["workspaces"][0], "boards": 1}]})
    with pytest.raises(ProtocolError, match="boards"):
        export_online(victim.client, boards=[board["board"]], strategy="export")

    hostile.edit = None
    online = export_online(victim.client, boards=[board["board"]], strategy="export")
    assert [c.title for c in online.result.boards[0].columns[0].cards] == ["first", "second"]


def test_description_that_is_not_yjs(
    sandbox_url: str, victim: Account, board: dict[str, Any], hostile: HostileTransport
) -> None:
    """A member with the board key stores bytes that are no Yjs update: ProtocolError, not pycrdt's exception."""
    from mskclient.client._crypt import seal_bytes

    bk = victim.client.board_key(board["board"])
    garbage = seal_bytes(bk, "card", "encDescription", b"\xff\x00 not a yjs update")

    def poison(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cards[0]["encDescription"] = garbage
        return cards

    hostile.edit = json_edit("/cards", poison)
    with pytest.raises(ProtocolError, match="Yjs"):
        victim.client.cards(board["board"])


def test_unwritable_target_is_a_usage_error(victim: Account, board: dict[str, Any], tmp_path: Path) -> None:
    attachment = victim.client.upload_attachment(board["cards"][1], io.BytesIO(b"x" * 1000), "x.txt", "text/plain")
    with pytest.raises(UsageError, match="cannot write"):
        victim.client.save_attachment(attachment.id, tmp_path / "missing" / "x.txt")
    (tmp_path / "dir").mkdir()
    with pytest.raises(UsageError, match="cannot write"):
        victim.client.save_attachment(attachment.id, tmp_path / "dir")  # a directory is no file
    assert [p.name for p in tmp_path.iterdir()] == ["dir"] and not list((tmp_path / "dir").iterdir())


def test_login_answer_with_a_foreign_public_key(sandbox_url: str, victim: Account, hostile: HostileTransport) -> None:
    """The server pairs our encrypted private key with another public key: refused, no keys kept."""
    attacker = b64u_encode(KeyPair.generate().public)

    def swap_key(answer: dict[str, Any]) -> dict[str, Any]:
        answer["user"]["publicKey"] = attacker
        return answer

    hostile.edit = json_edit("/auth/login", swap_key, method="POST")
    with Client(sandbox_url, transport=hostile, pacer=Pacer.unlimited()) as fresh:
        with pytest.raises(ProtocolError, match="publicKey"):
            fresh.login(victim.email, PASSWORD)
        assert not fresh.has_keys


def test_tampered_recovery_material(sandbox_url: str, victim: Account, hostile: HostileTransport) -> None:
    """Step 1 answered with a blob that does not open under our recovery key: DecryptionError, nothing sent."""

    def tamper(answer: dict[str, Any]) -> dict[str, Any]:
        return (
            answer if "challengeId" not in answer else {**answer, "encRecoveryBlob": _flip(answer["encRecoveryBlob"])}
        )

    hostile.edit = json_edit("/auth/recovery", tamper, method="POST")
    hostile.seen.clear()
    with Client(sandbox_url, transport=hostile, pacer=Pacer.unlimited()) as fresh, pytest.raises(DecryptionError):
        fresh.recover(victim.email, victim.recovery_key, "never used, not even once")
    assert hostile.seen.count(("POST", "/api/auth/recovery")) == 1  # step 2 was never sent


def test_invite_never_shows_a_key_other_than_the_one_sealed_to(
    sandbox_url: str, victim: Account, hostile: HostileTransport, tmp_path: Path
) -> None:
    """Lookup substitutes the server's key, the invite answer names the invitee's real one:
    an error (not the real fingerprint shown as if sealed to it); with the fingerprint the
    invitee read out, a refusal before anything is sealed or sent."""
    dana = register(sandbox_url, "dana")
    real = dana.client.keys.keypair.public
    dana.client.close()
    attacker = KeyPair.generate().public
    victim.client.core.trust = TrustStore(tmp_path / "pins.json")
    ws = victim.client.create_workspace("Substituted")

    hostile.edit = substitute_lookup_key(attacker)
    with pytest.raises(ProtocolError, match="sealed to") as caught:
        victim.client.invite(ws.id, dana.email)
    assert fingerprint(attacker) in str(caught.value) and fingerprint(real) not in str(caught.value)

    other = victim.client.create_workspace("Checked")
    hostile.seen.clear()
    with pytest.raises(KeyTrustError, match="nothing was sealed or sent"):
        victim.client.invite(other.id, dana.email, expected_fingerprint=fingerprint(real).upper().replace(" ", ""))
    assert ("POST", f"/api/workspaces/{other.id}/members") not in hostile.seen
    hostile.edit = None
    assert [m.email for m in victim.client.members(other.id)] == [victim.email]

    spoken = " ".join(fingerprint(real).upper().split()[:4]) + "  " + "".join(fingerprint(real).split()[4:])
    invited = victim.client.invite(other.id, dana.email, expected_fingerprint=spoken)
    assert invited.fingerprint == fingerprint(real) and victim.client.key_state(invited) == "verified"


def test_unlock_tells_a_wrong_password_from_a_tampered_private_key(
    sandbox_url: str, victim: Account, hostile: HostileTransport
) -> None:
    """On a saved session only encSymmetricKey shows a mistyped password; any later failure is tampering."""
    with Client(sandbox_url, token=victim.client.token, email=victim.email, transport=hostile) as device:
        with pytest.raises(CredentialsError, match="wrong password"):
            device.unlock("not the password at all")

        def tamper(answer: dict[str, Any]) -> dict[str, Any]:
            answer["user"]["encPrivateKey"] = _flip(answer["user"]["encPrivateKey"])
            return answer

        hostile.edit = json_edit("/me", tamper)
        with pytest.raises(DecryptionError) as caught:
            device.unlock(PASSWORD)
        assert caught.value.field == "encPrivateKey"
        assert not device.has_keys
