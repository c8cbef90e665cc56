"""Decrypted export of boards: the tree, the decryption of `/me/export` bundles, the writers.

Online (`msk export`) and offline (`msk export --from-file`) share everything here;
only where the encrypted bundles come from differs.  This layer may import the crypto core,
the client's public API and the shared top-level modules; never live, importers, backup, the
CLI or the sandbox.
"""

from ._attachments import Fetch, ciphertext_fetch, save_attachments
from ._decrypt import decrypt_board, members_by_id
from ._document import (
    BoardEntry,
    ExportCheck,
    ExportChecker,
    ExportDecryptor,
    decrypt_document,
    decrypt_export_file,
    keys_from_password,
    list_boards,
)
from ._files import atomic_open, atomic_write_text, safe_name
from ._online import STRATEGIES, OnlineExport, aexport_online, attachment_fetch, export_online
from ._select import name_matches, resolve
from ._stream import ExportParser, ExportSink, Level
from ._tree import (
    UNDECRYPTABLE,
    CheckedBoard,
    ExportAttachment,
    ExportBoard,
    ExportCard,
    ExportChecklist,
    ExportChecklistItem,
    ExportColumn,
    ExportComment,
    ExportResult,
    FieldFailure,
)
from ._writers import FORMATS, board_to_json, existing_outputs, export_to_json, render, write_export

__all__ = [
    "FORMATS",
    "STRATEGIES",
    "UNDECRYPTABLE",
    "BoardEntry",
    "CheckedBoard",
    "ExportAttachment",
    "ExportBoard",
    "ExportCard",
    "ExportCheck",
    "ExportChecker",
    "ExportChecklist",
    "ExportChecklistItem",
    "ExportColumn",
    "ExportComment",
    "ExportDecryptor",
    "ExportParser",
    "ExportResult",
    "ExportSink",
    "Fetch",
    "FieldFailure",
    "Level",
    "OnlineExport",
    "atomic_open",
    "atomic_write_text",
    "aexport_online",
    "attachment_fetch",
    "board_to_json",
    "ciphertext_fetch",
    "decrypt_board",
    "decrypt_document",
    "decrypt_export_file",
    "export_online",
    "existing_outputs",
    "export_to_json",
    "keys_from_password",
    "list_boards",
    "members_by_id",
    "name_matches",
    "render",
    "resolve",
    "safe_name",
    "save_attachments",
    "write_export",
]
