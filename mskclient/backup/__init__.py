"""Backups that can be checked: the account's ciphertext in one file, verified with or without
the password, and `msk doctor`'s checks of this machine's setup.

A backup (`create_backup`) needs only a session, never the password: it holds the server's
`/me/export` and every attachment's ciphertext, exactly as stored, with a manifest of sizes
and SHA-256 digests (the format is in `_format` and docs/backup.md).  `verify_backup` checks
it; `open_backup` is the reader a restore or an offline export builds on.  `Restorer`
recreates a backup's workspaces in an account, re-sending its ciphertext as it is, on the
import journal (resumable, paced; `_restore`).
`Rekeyer` rotates a workspace's keys by copying it, through the import framework, into a new
workspace.

This layer may import the crypto core, the client, the export, the importers' journal and
pacing, `_profile`, `_json`, `_pacing`, `_errors`, and the session and trust stores (for the
doctor); never the CLI.
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
from ._restore import KINDS as RESTORE_KINDS
from ._restore import RestorePlan, Restorer, RestoreSummary, WorkspacePlan, target_public_key
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
    "RESTORE_KINDS",
    "RekeyPlan",
    "RekeyResult",
    "Rekeyer",
    "RestorePlan",
    "RestoreSummary",
    "Restorer",
    "VerifyReport",
    "WorkspacePlan",
    "WorkspaceSource",
    "attachment_member",
    "create_backup",
    "diagnose",
    "open_backup",
    "save_account_export",
    "target_public_key",
    "verify_backup",
    "workspace_snapshot",
]
