"""`msk demo`: a sandbox, an encrypted board, its decrypted export, and the proof side by side.

Everything happens in a temporary directory that is removed afterwards: the sandbox
database, and (unless `--out` is given) the exported files.  The demo password is
random and never written anywhere.
"""

from __future__ import annotations

import io
import secrets
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from .._pacing import Pacer
from ..client import Client
from ..export import ExportCard, decrypt_document, write_export
from ._sandbox import require_sandbox_extra
from ._units import counted, human_size
from ._untrusted import rich_text

__all__ = ["demo"]

_BOARD = "Produkt-Roadmap 🚀"
_ATTACHMENT = ("Notizen-Überblick.txt", "Grüße aus der Sandbox — 日本語もOK ✓\n".encode() * 40)


#: What to run after the demo, with a server of one's own (the commands exactly as typed).
_NEXT_STEPS = (
    ("msk sandbox &", "a local server at http://127.0.0.1:8765 (its data stays until you delete it)"),
    ("export MSK_SERVER=http://127.0.0.1:8765", "the server every command talks to"),
    ("msk register you@example.org", "choose a password; keep the recovery key it prints"),
    ('eval "$(msk unlock --timeout 15m)"', "unlock your keys once for 15 minutes"),
    ("msk export --all --format html --out my-export", "your boards, decrypted, in my-export/export.html"),
)


def _short(text: str, width: int = 46) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _build(client: Client) -> dict[str, str]:
    """The demo board; returns plaintexts by what they are, to compare with the server's copy."""
    ws = client.create_workspace("Demo GmbH")
    board = client.create_board(ws.id, _BOARD, "Was wir *diese Woche* schaffen wollen.")
    todo = client.create_column(board.id, "Zu erledigen")
    doing = client.create_column(board.id, "In Arbeit", wip_limit=3)
    client.create_column(board.id, "Erledigt")
    urgent = client.create_label(board.id, "dringend", "#d93f0b")
    client.create_label(board.id, "backend", "#0e8a16")
    milestone = client.create_milestone(board.id, "Version 1.0 — Frühling")
    login = client.create_card(todo.id, "Anmeldung reparieren — ünïcödé", "## Schritte\n\n- Fehler nachstellen\n")
    client.add_label(login.id, urgent.id)
    client.set_milestone(login.id, milestone.id)
    client.add_comment(login.id, "Passiert nur mit Umlauten im Passwort (ä, ö, ß).")
    client.add_comment(login.id, "確認しました 👍")
    steps = client.add_checklist(login.id, "Checkliste")
    client.add_item(steps.id, "Fehler nachstellen", done=True, board_id=board.id)
    client.add_item(steps.id, "Test schreiben", board_id=board.id)
    client.add_item(steps.id, "Fix ausrollen", board_id=board.id)
    client.upload_attachment(login.id, io.BytesIO(_ATTACHMENT[1]), _ATTACHMENT[0], "text/plain")
    client.create_card(doing.id, "日本語のカード", "説明文は **Markdown** です。")
    client.create_card(doing.id, "Café-Menü ☕ überarbeiten")
    return {
        "workspace.encName": "Demo GmbH",
        "board.encTitle": _BOARD,
        "column.encTitle": "Zu erledigen",
        "label.encName": "dringend",
        "milestone.encTitle": "Version 1.0 — Frühling",
        "card.encTitle": "Anmeldung reparieren — ünïcödé",
        "comment.encBody": "Passiert nur mit Umlauten im Passwort (ä, ö, ß).",
        "checklistItem.encText": "Fehler nachstellen",
        "attachment.encName": _ATTACHMENT[0],
    }


def _stored(document: dict[str, Any]) -> dict[str, str]:
    """The ciphertext the server holds for the same fields (from its /me/export)."""
    ws = document["workspaces"][0]
    bundle = ws["boards"][0]
    card = next(c for c in bundle["cards"] if c.get("comments"))
    return {
        "workspace.encName": ws["workspace"]["encName"],
        "board.encTitle": bundle["board"]["encTitle"],
        "column.encTitle": min(bundle["columns"], key=lambda c: c["position"])["encTitle"],
        "label.encName": next(x for x in bundle["labels"] if x["color"] == "#d93f0b")["encName"],
        "milestone.encTitle": bundle["milestones"][0]["encTitle"],
        "card.encTitle": card["encTitle"],
        "comment.encBody": min(card["comments"], key=lambda c: c["createdAt"])["encBody"],
        "checklistItem.encText": min(card["checklists"][0]["items"], key=lambda i: i["position"])["encText"],
        "attachment.encName": card["attachments"][0]["encName"],
    }


def _card_text(card: ExportCard) -> str:
    lines = [f"▪ {card.title}"]
    lines += [f"  [{label}]" for label in card.labels]
    lines += [f"  ☑ {i.text}" if i.done else f"  ☐ {i.text}" for c in card.checklists for i in c.items]
    lines += [f"  💬 {c.body}" for c in card.comments]
    lines += [f"  📎 {a.name} ({human_size(a.size)})" for a in card.attachments]
    return "\n".join(lines)


def _leaks(directory: Path, plaintexts: list[str]) -> list[str]:
    """Plaintexts found in any file of the server's database directory (should be none)."""
    blobs = [p.read_bytes() for p in directory.iterdir() if p.is_file()]
    return [t for t in plaintexts if any(t.encode("utf-8") in blob for blob in blobs)]


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the decrypted export (JSON and HTML) in this directory.",
)
def demo(out_dir: Path | None) -> None:
    """Show end-to-end encryption at work on a throwaway local server (exits 0 on success)."""
    require_sandbox_extra()
    from ..sandbox import Sandbox, SandboxConfig

    console = Console()
    with tempfile.TemporaryDirectory(prefix="msk-demo-") as tmp:
        server_dir = Path(tmp) / "server"
        server_dir.mkdir()
        config = SandboxConfig(db_path=str(server_dir / "sandbox.db")).lift_limits()
        with console.status("Starting a sandbox server…"), Sandbox(config) as url:
            console.print(f"Sandbox running at [bold]{url}[/bold] (database in a temporary directory)")
            with Client(url, pacer=Pacer.unlimited()) as client:
                with console.status("Registering demo@example.org (Argon2id key derivation)…"):
                    registration = client.register("demo@example.org", secrets.token_urlsafe(24))
                console.print(
                    f"Registered; recovery key (shown once): [dim]{registration.recovery_key}[/dim]\n"
                    "This recovery key is throwaway: the demo account is deleted with its sandbox when "
                    "the demo ends.  For an account of your own, keep the key offline: it is the only "
                    "way back in if you forget the password."
                )
                with console.status("Building an encrypted board…"):
                    plaintexts = _build(client)
                with console.status("Exporting and decrypting…"):
                    document = client.export_me()
                    result = decrypt_document(document, client.keys)
                requests = client.requests
            leaks = _leaks(server_dir, [*plaintexts.values(), _ATTACHMENT[1][:40].decode("utf-8", "ignore")])

        stored = _stored(document)
        side = Table(title="What the server stored vs. what the client shows", title_justify="left", expand=True)
        side.add_column("field", style="cyan", no_wrap=True)
        side.add_column("server (ciphertext)", style="red", overflow="fold")
        side.add_column("client (decrypted)", style="green", overflow="fold")
        for name, plain in plaintexts.items():
            side.add_row(name, _short(stored[name]), rich_text(plain, multiline=True))
        console.print(side)

        board = result.boards[0]
        view = Table(title=rich_text(f"Decrypted board: {board.title}"), title_justify="left", expand=True)
        for column in board.columns:
            view.add_column(rich_text(column.title), overflow="fold")
        view.add_row(
            *(rich_text("\n\n".join(_card_text(c) for c in column.cards), multiline=True) for column in board.columns)
        )
        console.print(view)
        console.print(
            f"{counted(len(result.boards), 'board')}, {counted(result.card_count, 'card')} exported with "
            f"{counted(requests, 'request')} in total; fields that failed to decrypt: {len(result.failures)}"
        )
        if leaks:
            console.print(f"[bold red]Plaintext found in the server's database: {leaks}[/bold red]")
            raise SystemExit(1)
        console.print("[bold green]✓[/bold green] None of these plaintexts appears in the server's database files.")
        if out_dir is not None:
            written = write_export(result, "json", out_dir) + write_export(result, "html", out_dir)
            console.print("Export written to " + ", ".join(str(p) for p in written))
        width = max(len(command) for command, _ in _NEXT_STEPS)
        steps = "\n".join(f"  {command:<{width}}  # {why}" for command, why in _NEXT_STEPS)
        console.print(f"\nNext steps, on a server of your own:\n{steps}", markup=False, highlight=False)
