"""Save decrypted attachments: streamed chunk by chunk (constant memory), atomically, under safe names."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .._errors import ProtocolError
from ..crypto import decrypt_file
from ._files import atomic_open, safe_name
from ._tree import ExportAttachment, ExportBoard, ExportCard, ExportResult, replace_nodes

__all__ = ["Fetch", "attachment_path", "ciphertext_fetch", "save_attachments"]

#: Writes the plaintext of one attachment into the sink; returns the number of bytes written.
Fetch = Callable[[ExportAttachment, BinaryIO], int]


def ciphertext_fetch(open_ciphertext: Callable[[str], BinaryIO]) -> Fetch:
    """A Fetch that decrypts a secretstream read from `open_ciphertext(attachment_id)` with the file key."""

    def fetch(attachment: ExportAttachment, sink: BinaryIO) -> int:
        if attachment.file_key is None:
            raise ProtocolError(f"attachment {attachment.id}: its file key did not decrypt")
        with open_ciphertext(attachment.id) as source:
            return decrypt_file(attachment.file_key, source, sink, attachment_id=attachment.id)

    return fetch


def attachment_path(directory: Path, attachment: ExportAttachment) -> Path:
    """Where `save_attachments` puts `attachment`: `<id>-<safe name>`, always inside `directory`."""
    path = directory / safe_name(attachment.name, prefix=attachment.id, fallback="attachment")
    assert path.parent == directory
    return path


def save_attachments(
    result: ExportResult,
    directory: Path,
    fetch: Fetch,
    *,
    relative_to: Path | None = None,
    on_file: Callable[[ExportAttachment], None] | None = None,
) -> ExportResult:
    """Decrypt every attachment into `directory` (one file each, `<id>-<safe name>`).

    Attachments whose file key did not decrypt (already reported) are skipped.
    Returns the tree with `file` set (relative to `relative_to`, the export's own directory,
    when given) so the writers can link to the saved files.
    """

    def save(attachment: ExportAttachment) -> ExportAttachment:
        if on_file is not None:
            on_file(attachment)
        if attachment.file_key is None:  # its key did not decrypt: already in the failures, nothing to open
            return attachment
        path = attachment_path(directory, attachment)
        with atomic_open(path) as sink:
            size = fetch(attachment, sink)
            if size != attachment.size:
                raise ProtocolError(
                    f"attachment {attachment.id}: content has {size} bytes, its metadata says {attachment.size}"
                )
        shown = Path(os.path.relpath(path, relative_to)) if relative_to is not None else path
        return attachment._replace(file=shown.as_posix())

    def card(c: ExportCard) -> ExportCard:
        return c._replace(attachments=tuple(save(a) for a in c.attachments)) if c.attachments else c

    def board(b: ExportBoard) -> ExportBoard:
        columns = tuple(col._replace(cards=replace_nodes(col.cards, card)) for col in b.columns)
        return b._replace(columns=columns)

    return dataclasses.replace(result, boards=tuple(board(b) for b in result.boards))
