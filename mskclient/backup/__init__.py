"""Backups that can be checked: the account's ciphertext in one file, verified with or without
the password, and `msk doctor`'s checks of this machine's setup.

A backup (`create_backup`) needs only a session, never the password: it holds the server's
`/me/export` and every attachment's ciphertext, exactly as stored, with a manifest of sizes
and SHA-256 digests (the format is in `_format` and docs/backup.md).  `verify_backup` checks
it; `open_backup` is the reader a restore or an offline export builds on.  `Rekeyer` rotates
a workspace's keys by copying it, through the import framework, into a new workspace.

This layer may import the crypto core, the client, the export, `_profile`, `_errors`, and
the session and trust stores (for the doctor); never the CLI.
"""

from ._create import BackupSummary, Progress, create_backup, save_account_export
from ._doctor import CLOCK_FAIL, CLOCK_WARN, Check, diagnose
from ._format import (
    EXPORT_MEMBER,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_MEMBER,
    Backup,
    Manifest,
    ManifestMember,
    attachment_member,
    open_backup,
)
from ._rekey import Rekeyer, RekeyPlan, RekeyResult, WorkspaceSource, workspace_snapshot
from ._verify import BoardReport, Problem, VerifyReport, verify_backup

__all__ = [
    "CLOCK_FAIL",
    "CLOCK_WARN",
    "EXPORT_MEMBER",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_MEMBER",
    "Backup",
    "BackupSummary",
    "BoardReport",
    "Check",
    "Manifest",
    "ManifestMember",
    "Problem",
    "Progress",
    "RekeyPlan",
    "RekeyResult",
    "Rekeyer",
    "VerifyReport",
    "WorkspaceSource",
    "attachment_member",
    "create_backup",
    "diagnose",
    "open_backup",
    "save_account_export",
    "verify_backup",
    "workspace_snapshot",
]
