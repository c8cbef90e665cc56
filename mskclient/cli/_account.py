"""Account and session commands: register, login, logout, whoami, recover, unlock, lock, 2fa."""

from __future__ import annotations

import contextlib
import io
import shlex
from datetime import UTC, datetime
from pathlib import Path

import click
import qrcode
from rich.table import Table

from .._errors import AuthError, UsageError
from .._profile import UNLOCK_MAX_SECONDS
from .._session_store import check_unlock_timeout
from ..crypto import fingerprint, parse_recovery_key
from ._context import CliContext, global_options, parse_duration
from ._untrusted import markup, rich_text, visible

__all__ = ["login", "lock", "logout", "recover", "register", "two_factor", "unlock", "whoami"]


@click.command()
@click.argument("email")
@global_options
def register(ctx: CliContext, email: str) -> None:
    """Create an account and log in; prints the recovery key ONCE."""
    client = ctx.new_client(ctx.server_url(), email)
    registration = client.register(email, ctx.password("New password", confirm=True))
    ctx.save_session(client)
    user = registration.user
    ctx.emit(
        {"id": user.id, "email": user.email, "server": client.server, "recoveryKey": registration.recovery_key},
        lambda: (
            f"Registered [bold]{markup(user.email)}[/bold] on {markup(client.server)}"
            f" (profile {markup(ctx.profile)}).\n\n"
            f"Recovery key (shown once; write it down, it is the only way back if you lose the password):\n\n"
            f"    [bold]{markup(registration.recovery_key)}[/bold]\n"
        ),
    )


@click.command()
@click.argument("email")
@click.option("--totp", help="Current 6-digit code, if 2FA is on (else asked when needed).")
@global_options
def login(ctx: CliContext, email: str, totp: str | None) -> None:
    """Log in (Argon2id from the password; the password never leaves this machine)."""
    client = ctx.new_client(ctx.server_url(), email)
    password = ctx.password()
    try:
        user = client.login(email, password, totp)
    except AuthError as exc:
        if exc.code != "TOTP_REQUIRED" or totp is not None:
            raise
        code = click.prompt("2FA code", err=True)
        user = client.login(email, password, str(code).strip())
    ctx.save_session(client)
    ctx.emit(
        {"id": user.id, "email": user.email, "server": client.server, "profile": ctx.profile},
        lambda: (
            f"Logged in as [bold]{markup(user.email)}[/bold] on {markup(client.server)}"
            f" (profile {markup(ctx.profile)})."
        ),
    )


@click.command()
@global_options
def logout(ctx: CliContext) -> None:
    """End the session on the server and forget it (and any unlock) here."""
    record = ctx.store.load(ctx.profile)
    if record is not None and record.token is not None:
        # already expired on the server: forgetting it here is all that is left
        with contextlib.suppress(AuthError):
            ctx.client().logout()
    ctx.store.forget(ctx.profile)
    ctx.emit({"profile": ctx.profile, "loggedOut": True}, lambda: f"Logged out (profile {markup(ctx.profile)}).")


@click.command()
@global_options
def whoami(ctx: CliContext) -> None:
    """Show the account of this profile (no password needed)."""
    client = ctx.client()
    me = client.me()
    expiry = ctx.store.unlock_expiry(ctx.profile)
    data = {
        "id": me.user.id,
        "email": me.user.email,
        "displayName": me.user.display_name,
        "server": client.server,
        "profile": ctx.profile,
        "totpEnabled": me.user.totp_enabled,
        "fingerprint": fingerprint(me.user.public_key),
        "workspaces": len(me.memberships),
        "unlocked": expiry is not None,
        "unlockedUntil": None if expiry is None else datetime.fromtimestamp(expiry, UTC).isoformat(),
    }

    def table() -> Table:
        grid = Table.grid(padding=(0, 2))
        for key, value in data.items():
            grid.add_row(f"[dim]{key}[/dim]", rich_text(value))
        return grid

    ctx.emit(data, table)


@click.command()
@click.argument("email")
@click.option(
    "--recovery-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the recovery key from this file (else asked).",
)
@global_options
def recover(ctx: CliContext, email: str, recovery_key_file: Path | None) -> None:
    """Set a new password with the recovery key (the data stays readable)."""
    if recovery_key_file is not None:
        try:
            text = recovery_key_file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the recovery key file: {exc}") from None
    else:
        text = click.prompt("Recovery key", hide_input=True, err=True)
    key = parse_recovery_key(text)  # typos are caught here, before any request
    client = ctx.new_client(ctx.server_url(), email)
    client.recover(email, key, ctx.password("New password", confirm=True))
    ctx.emit(
        {"email": email, "recovered": True},
        lambda: markup(f"Password changed for {email}. Log in with `msk login {shlex.quote(email)}`."),
    )


@click.command()
@click.option(
    "--timeout",
    default="15m",
    show_default=True,
    help=f"How long the unlock lasts (e.g. 90s, 15m, 2h; at most {UNLOCK_MAX_SECONDS // 3600}h).",
)
@global_options
def unlock(ctx: CliContext, timeout: str) -> None:
    """Keep the keys unlocked for a while; prints a secret to export as MSK_SESSION.

    The keys, encrypted under that secret, stay in a per-user agent process (memory only)
    that ends at the timeout or on `msk lock`.
    """
    seconds = parse_duration(timeout)
    check_unlock_timeout(seconds)  # before the password is asked for
    record = ctx.record()
    client = ctx.new_client(record.server, record.email, record.token)
    client.unlock(ctx.password())
    secret = ctx.store.unlock(ctx.profile, client.keys, seconds)
    if ctx.json:
        ctx.emit({"session": secret, "expiresIn": seconds, "profile": ctx.profile})
    else:  # plain echo: a shell line for `eval "$(msk unlock)"`, never wrapped or styled
        click.echo(f"export MSK_SESSION={shlex.quote(secret)}")


@click.command()
@global_options
def lock(ctx: CliContext) -> None:
    """End this profile's unlock: its agent forgets the keys and exits."""
    removed = ctx.store.lock(ctx.profile)
    ctx.emit(
        {"profile": ctx.profile, "locked": True, "removed": removed},
        lambda: f"Locked (profile {markup(ctx.profile)}).",
    )


@click.group("2fa")
def two_factor() -> None:
    """Two-factor authentication (TOTP)."""


@two_factor.command()
@global_options
def enroll(ctx: CliContext) -> None:
    """Start 2FA: shows the otpauth URL and a QR code; confirm with `msk 2fa verify CODE`."""
    enrollment = ctx.client().totp_enroll()

    def show() -> str:
        qr = qrcode.QRCode(border=1)
        qr.add_data(enrollment.otpauth_url)
        out = io.StringIO()
        qr.print_ascii(out=out, invert=True)
        return (
            f"{out.getvalue()}\n{visible(enrollment.otpauth_url)}\n\n"
            f"Scan it (or enter the secret {visible(enrollment.secret)}), "
            "then run `msk 2fa verify CODE`."
        )

    if ctx.json:
        ctx.emit({"secret": enrollment.secret, "otpauthUrl": enrollment.otpauth_url})
    else:
        click.echo(show())


@two_factor.command()
@click.argument("code")
@global_options
def verify(ctx: CliContext, code: str) -> None:
    """Confirm 2FA enrollment with a current code."""
    ctx.client().totp_verify(code.strip())
    ctx.emit({"totpEnabled": True}, lambda: "2FA is on.")


@two_factor.command()
@click.argument("code")
@global_options
def disable(ctx: CliContext, code: str) -> None:
    """Turn 2FA off (needs a current code)."""
    ctx.client().totp_disable(code.strip())
    ctx.emit({"totpEnabled": False}, lambda: "2FA is off.")
