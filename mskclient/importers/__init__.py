"""Importing boards from other kanban tools into MSKanban, encrypted locally, resumable and verifiable.

A source reader (`DeckSource` for Nextcloud Deck, `KaitenSource` for Kaiten, `CodecksSource` for
Codecks) only ever reads the source and
turns it into the source-neutral model (`SourceBoard` → `SourceColumn` →
`SourceCard` …).  `Importer.plan()` compares that model with the board's journal
and counts what a run would create (the `--dry-run`); `Importer.run()` executes the
same steps through the public `mskclient.Client`, paced under the server's mutation
limit, writing each create ahead into the journal so that a run killed at any point
resumes without duplicates.  See docs/import.md for the mapping and the resume rules.

This layer may import crypto, client, `_profile`, `_errors`, `_pacing`, `_atomic`
and `_session_store`; never cli.
"""

from ._codecks import CodecksSource
from ._deck import DeckSource, deck_base_url, split_tasks
from ._journal import Journal, journal_path
from ._kaiten import KaitenSource, kaiten_base_url, tag_color
from ._model import (
    BoardRef,
    Source,
    SourceAttachment,
    SourceBoard,
    SourceCard,
    SourceChecklist,
    SourceChecklistItem,
    SourceColumn,
    SourceComment,
    SourceField,
    SourceLabel,
    SourceMilestone,
    SourceRule,
    SourceTemplate,
    SourceUser,
    SourceWebhook,
)
from ._runner import (
    KINDS,
    BoardPlan,
    BoardResult,
    Importer,
    Plan,
    Stage,
    Summary,
    comment_text,
    count_by_kind,
    estimate_seconds,
    notes_text,
    webhook_digest,
)

__all__ = [
    "KINDS",
    "BoardPlan",
    "BoardRef",
    "BoardResult",
    "CodecksSource",
    "DeckSource",
    "Importer",
    "Journal",
    "KaitenSource",
    "Plan",
    "Source",
    "SourceAttachment",
    "SourceBoard",
    "SourceCard",
    "SourceChecklist",
    "SourceChecklistItem",
    "SourceColumn",
    "SourceComment",
    "SourceField",
    "SourceLabel",
    "SourceMilestone",
    "SourceRule",
    "SourceTemplate",
    "SourceUser",
    "SourceWebhook",
    "Stage",
    "Summary",
    "comment_text",
    "deck_base_url",
    "count_by_kind",
    "estimate_seconds",
    "journal_path",
    "kaiten_base_url",
    "notes_text",
    "split_tasks",
    "tag_color",
    "webhook_digest",
]
