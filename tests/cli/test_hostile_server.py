"""`msk members invite` through a hostile server that substitutes the invitee's public key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _accounts import PASSWORD, Account, register
from _hostile import HostileTransport, substitute_lookup_key

from mskclient import Client, KeyTrustError, ProtocolError
from mskclient.crypto import KeyPair, fingerprint


def test_cli_invite_through_a_key_substituting_server(
    sandbox_url: str, victim: Account, hostile: HostileTransport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`msk members invite` never prints the invitee's real fingerprint for a key it did not seal
    to; `--fingerprint` refuses before sending; `verify` and `list` show the verified state."""
    import functools

    from click.testing import CliRunner, Result

    from mskclient.cli import _context
    from mskclient.cli._main import cli

    erin = register(sandbox_url, "erin")
    real = fingerprint(erin.client.keys.keypair.public)
    erin.client.close()
    attacker = KeyPair.generate().public
    ws = victim.client.create_workspace("Via the CLI")
    monkeypatch.setattr(_context, "Client", functools.partial(Client, transport=hostile))
    for name in ("MSK_SESSION", "MSK_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {"MSK_CONFIG_DIR": str(tmp_path / "config"), "MSK_SERVER": sandbox_url, "MSK_PASSWORD": PASSWORD}

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env={**env, "COLUMNS": "200"}, input=input)

    def shown(result: Result) -> str:
        """What the user sees: the output and the one-line `msk: error:` of an MskError."""
        return result.output + ("" if result.exception is None else str(result.exception))

    assert run("login", victim.email).exit_code == 0
    hostile.edit = substitute_lookup_key(attacker)
    substituted = run("members", "invite", erin.email, "--workspace", ws.id)
    assert isinstance(substituted.exception, ProtocolError)
    assert real not in shown(substituted) and fingerprint(attacker) in shown(substituted)

    hostile.seen.clear()
    refused = run("members", "invite", erin.email, "--workspace", ws.id, "--fingerprint", real)
    assert isinstance(refused.exception, KeyTrustError) and "nothing was sealed" in shown(refused)
    assert ("POST", f"/api/workspaces/{ws.id}/members") not in hostile.seen
    assert isinstance(run("members", "verify", erin.email, "--fingerprint", real).exception, KeyTrustError)

    hostile.edit = None
    listed = json.loads(run("members", "list", "--workspace", ws.id, "--json").output)
    assert {m["email"]: m["keyState"] for m in listed}[erin.email] == "changed"  # pinned: the substituted key
    declined = run("members", "verify", erin.email, input="n\n")
    assert declined.exit_code != 0 and real in declined.output
    assert run("members", "verify", erin.email, input="y\n").exit_code == 0
    listed = json.loads(run("members", "list", "--workspace", ws.id, "--json").output)
    assert {m["email"]: m["keyState"] for m in listed} == {victim.email: "first seen", erin.email: "verified"}
    table = run("members", "list", "--workspace", ws.id).output
    assert "verified" in table and "first seen" in table
