"""Acceptance: after a full session with known plaintexts, no plaintext and no key appears in
the raw bytes of the SQLite files (with -wal and -shm) or the server log, in any encoding."""

from __future__ import annotations

import base64
import io
import json
import secrets
from pathlib import Path

from _accounts import User, env, make_board

from mskclient.crypto import FileKey, b64u_decode, encrypt_file, wrap_file_key
from mskclient.sandbox import Sandbox

from ._helpers import config


def _forms(secret: bytes) -> list[bytes]:
    """Raw, hex, and base64/base64url spellings at each of the three byte alignments (so the
    secret is found inside a longer encoded string too), trimmed of boundary symbols."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for shift in range(3):
        for encode in (base64.urlsafe_b64encode, base64.b64encode):
            text = encode(b"\0" * shift + secret + b"\0\0").rstrip(b"=")
            head = (shift * 8 + 5) // 6  # symbols that mix in the padding bytes before
            forms.append(text[head : head + (len(secret) * 8) // 6 - 1])
    return forms


def test_no_plaintext_or_key_reaches_the_server(tmp_path: Path) -> None:
    db = tmp_path / "zk.db"
    log = tmp_path / "server.log"
    marker = secrets.token_hex(6)
    texts = {name: f"ZK-{name}-{marker}-ünïcode" for name in (
        "workspace", "board", "description", "column", "card", "cardDesc", "label", "milestone", "comment",
        "checklist", "item", "template", "templateBody", "field", "options", "value", "automation", "fileName",
        "fileMime", "fileBody",
    )}  # fmt: skip
    with Sandbox(config(db_path=str(db), log_path=str(log))) as url:
        alice = User(url, "alice@example.org", password=f"alice-password-{marker}").signed_up()
        bob = User(url, "bob@example.org", password=f"bob-password-{marker}").signed_up()
        b = make_board(alice)
        bk, http = b.bk, alice.http
        assert alice.invite(b.ws, b.wk, bob, "member").status_code == 201
        http.patch(f"/workspaces/{b.ws}", json={"encName": env(b.wk, "workspace", "encName", texts["workspace"])})
        http.patch(
            f"/boards/{b.id}",
            json={
                "encTitle": env(bk, "board", "encTitle", texts["board"]),
                "encDescription": env(bk, "board", "encDescription", texts["description"]),
            },
        )
        http.patch(f"/columns/{b.column}", json={"encTitle": env(bk, "column", "encTitle", texts["column"])})
        card = alice.card(
            b.column, bk, texts["card"], encDescription=env(bk, "card", "encDescription", texts["cardDesc"])
        )
        cid = card["id"]
        label = http.post(
            f"/boards/{b.id}/labels", json={"encName": env(bk, "label", "encName", texts["label"]), "color": "#123456"}
        ).json()
        http.post(f"/cards/{cid}/labels", json={"labelId": label["id"]})
        ms = http.post(
            f"/boards/{b.id}/milestones", json={"encTitle": env(bk, "milestone", "encTitle", texts["milestone"])}
        )
        http.put(f"/cards/{cid}/milestone", json={"milestoneId": ms.json()["id"]})
        bob.http.post(f"/cards/{cid}/comments", json={"encBody": env(bk, "comment", "encBody", texts["comment"])})
        cl = http.post(
            f"/cards/{cid}/checklists", json={"encTitle": env(bk, "checklist", "encTitle", texts["checklist"])}
        )
        http.post(
            f"/checklists/{cl.json()['id']}/items", json={"encText": env(bk, "checklistItem", "encText", texts["item"])}
        )
        http.post(
            f"/boards/{b.id}/card-templates",
            json={
                "encTitle": env(bk, "cardTemplate", "encTitle", texts["template"]),
                "encBody": env(bk, "cardTemplate", "encBody", texts["templateBody"]),
            },
        )
        cf = http.post(
            f"/boards/{b.id}/custom-fields",
            json={
                "encName": env(bk, "customField", "encName", texts["field"]),
                "type": "select",
                "encOptions": env(bk, "customField", "encOptions", json.dumps([texts["options"]])),
            },
        ).json()
        http.patch(f"/cards/{cid}", json={"customFields": {cf["id"]: env(bk, "card", "customFields", texts["value"])}})
        http.post(
            f"/boards/{b.id}/automations",
            json={
                "encName": env(bk, "automation", "encName", texts["automation"]),
                "trigger": {"type": "label.attached", "labelId": label["id"]},
                "action": {"type": "card.assign", "userId": bob.id},
            },
        )
        fk = FileKey.generate()
        sink = io.BytesIO()
        encrypt_file(fk, io.BytesIO(texts["fileBody"].encode() * 5000), sink)
        meta = {
            "encName": env(bk, "attachment", "encName", texts["fileName"]),
            "encMime": env(bk, "attachment", "encMime", texts["fileMime"]),
            "encFileKey": str(wrap_file_key(bk, fk)),
            "size": len(texts["fileBody"].encode()) * 5000,
        }
        r = http.post(
            f"/cards/{cid}/attachments",
            files={"meta": (None, json.dumps(meta)), "file": ("x", sink.getvalue(), "application/octet-stream")},
        )
        assert r.status_code == 201
        http.patch(f"/cards/{cid}/move", json={"toColumnId": b.column})
        assert http.get("/me/export").status_code == 200
        assert alice.http.post("/auth/2fa/enroll").status_code == 200
        # Everything above is stored: the server answers it back as ciphertext.
        assert http.get(f"/cards/{cid}").json()["commentCount"] == 1
        files = [p for p in tmp_path.iterdir() if p.name.startswith("zk.db")]
        assert {p.name for p in files} >= {"zk.db", "zk.db-wal"}
        haystack = b"".join(p.read_bytes() for p in files) + log.read_bytes()
        secrets_found: list[str] = []
        keys: dict[str, bytes] = {}
        for user in (alice, bob):
            assert user.account is not None and user.login_keys is not None
            keys |= {
                f"{user.email} masterKey": user.login_keys.master_key.raw,
                f"{user.email} authHash": b64u_decode(user.login_keys.auth_hash),
                f"{user.email} userKey": user.account.keys.user_key.raw,
                f"{user.email} privateKey": user.account.keys.keypair.secret,
                f"{user.email} recoveryKey": user.account.recovery_key.raw,
                f"{user.email} password": user.password.encode(),
            }
        keys |= {"workspaceKey": b.wk.raw, "boardKey": bk.raw, "fileKey": fk.raw}
        keys |= {f"plaintext {name}": text.encode() for name, text in texts.items()}
        keys["marker"] = marker.encode()
        for name, secret in keys.items():
            if any(form in haystack for form in _forms(secret)):
                secrets_found.append(name)
        assert secrets_found == []
        # The scan would see them: the ciphertext of the card title is in the files, and the
        # shifted forms find bytes inside a longer base64 text.
        assert card["encTitle"].split(".")[2].encode() in haystack
        sealed = b64u_decode(card["encTitle"].split(".")[2])
        assert any(form in haystack for form in _forms(sealed[5:25])[3:])
        alice.close()
        bob.close()
