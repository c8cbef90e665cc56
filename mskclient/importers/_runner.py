"""Plan and run an import: the same list of steps is counted for `--dry-run` and executed for real.

Every MSKanban mutation the import makes is one `Step`.  `plan()` builds the
steps of each board against its journal (what is already done is skipped, what
changed at the source is reported) and counts them; `run()` executes the very
same steps, paced under the server's mutation limit, journaling each create
ahead of time (see `_journal`).  So the plan's counts are the run's counts.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._errors import ApiError, NotFoundError, TransportError, UsageError
from .._pacing import CreationOrder, Pacer
from .._profile import ATTACHMENT_MAX_CIPHERTEXT, RATE_LIMITS
from ..client import Client, Flow, SealedHook, primed
from ..crypto import ciphertext_size, normalize_email
from ._journal import Journal, journal_path
from ._model import (
    Source,
    SourceAttachment,
    SourceBoard,
    SourceCard,
    SourceComment,
    SourceField,
    SourceLabel,
    SourceMilestone,
    SourceRule,
    SourceTemplate,
    SourceUser,
    SourceWebhook,
)
from ._source_http import SourceUnavailable

if TYPE_CHECKING:
    from .. import Card

__all__ = [
    "KINDS",
    "BoardPlan",
    "BoardResult",
    "Importer",
    "Plan",
    "Stage",
    "Summary",
    "comment_text",
    "count_by_kind",
    "estimate_seconds",
    "notes_text",
    "webhook_digest",
]

#: Every kind of step, in the order the counts are shown.
KINDS: Final = (
    "board",
    "label",
    "custom_field",
    "milestone",
    "column",
    "card",
    "label_link",
    "assignment",
    "field_values",
    "milestone_link",
    "checklist",
    "checklist_item",
    "comment",
    "attachment",
    "note",
    "template",
    "automation",
    "webhook",
    "archive",
)

#: Seconds one paced request is assumed to take when estimating (the sandbox answers a
#: create in a few milliseconds; a remote server over the internet in tens).
_REQUEST_SECONDS: Final = 0.03
#: Attempts of one step after a dropped connection or a 5xx before the run stops.
_STEP_ATTEMPTS: Final = 4
#: Creates sealed ahead and made durable by one fsync of the journal (see `_rounds`).
_ROUND_STEPS: Final = 64
#: Steps looked through for the next round's ready ones.
_ROUND_WINDOW: Final = 1024
#: Steps that wait until every step before them is done: archiving (nothing may be added to
#: an archived card) and those that name other entities or change what they created.
_BARRIERS: Final = frozenset({"archive", "automation", "webhook"})

#: Called at each point a create passes: "sealed" (journaled, not yet sent), "created" (the
#: server answered, not yet journaled) and "recorded", with the step's source key.  Progress
#: displays listen to it, and tests stop the run there to prove that a crash anywhere resumes.
Stage = Callable[[str, str], None]


def comment_text(comment: SourceComment) -> str:
    """An imported comment: the original author and time first (MSKanban stamps the import time),
    unless the source carries comments verbatim."""
    if comment.verbatim:
        return comment.text
    return f"{comment.author} · {comment.created_at}\n\n{comment.text}"


def webhook_digest(url: str, events: Sequence[str]) -> str:
    """What identifies a webhook the run created on its own new board: it has no envelope.
    The events are sorted (a server may list them in its own order)."""
    return hashlib.sha256("\n".join([url, *sorted(events)]).encode()).hexdigest()


def notes_text(source: str, notes: Sequence[str]) -> str:
    """The note written into the board for what could not be carried."""
    return f"Imported from {source}. Not carried over:\n" + "\n".join(f"- {n}" for n in notes)


def count_by_kind(counts: Iterable[Mapping[str, int]], kinds: Sequence[str]) -> dict[str, int]:
    """The per-kind sums of several count maps, every kind of `kinds` present (0 when none)."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return {k: total.get(k, 0) for k in kinds}


def estimate_seconds(mutations: int, limit: tuple[int, float] | None, share: float) -> float:
    """Time to send `mutations` creates under a sliding-window limit (None: unlimited).

    The first window's worth goes out at request speed, then each further batch waits for
    the window to slide: batch k starts k windows after the first.
    """
    if mutations <= 0:
        return 0.0
    if limit is None:
        return mutations * _REQUEST_SECONDS
    per_window = max(1, int(limit[0] * share))
    full = (mutations - 1) // per_window
    return max(full * limit[1] + (mutations - full * per_window) * _REQUEST_SECONDS, mutations * _REQUEST_SECONDS)


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str
    #: Journal key: the source object's kind-prefixed id (plus a suffix for link steps).
    key: str
    #: Journal key of the parent this step hangs on ("" for the board itself).
    parent: str
    #: Keyed hash of the source content (creates only; tells a later run what changed).
    content: str = ""
    payload: Any = None
    #: Where the server lists the created entity: (kind for `sealed_digests`, journal key of the parent).
    listed: tuple[str, str] = ("", "")
    #: Attachment bytes (for the plan).
    size: int = 0


@dataclass
class BoardPlan:
    """One source board: what a run would create, skip and report."""

    key: str
    title: str
    #: The MSKanban board an earlier run created, or None for a new one.
    target: str | None
    create: Counter[str]
    attachment_bytes: int
    skipped: int
    warnings: list[str]
    changed: list[str]
    steps: list[_Step] = field(repr=False)

    @property
    def mutations(self) -> int:
        return len(self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.key,
            "title": self.title,
            "target": self.target or "new board",
            "create": {k: self.create.get(k, 0) for k in KINDS},
            "attachment_bytes": self.attachment_bytes,
            "already_imported": self.skipped,
            "mutations": self.mutations,
            "warnings": self.warnings,
            "changed_at_source": self.changed,
        }


@dataclass
class Plan:
    source: str
    url: str
    workspace_id: str
    boards: list[BoardPlan]
    limit: tuple[int, float] | None
    share: float

    @property
    def mutations(self) -> int:
        return sum(b.mutations for b in self.boards)

    @property
    def estimated_seconds(self) -> float:
        return estimate_seconds(self.mutations, self.limit, self.share)

    def totals(self) -> dict[str, int]:
        return count_by_kind((board.create for board in self.boards), KINDS)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "url": self.url,
            "workspace": self.workspace_id,
            "boards": [b.to_json() for b in self.boards],
            "create": self.totals(),
            "mutations": self.mutations,
            "mutation_limit": None if self.limit is None else {"requests": self.limit[0], "seconds": self.limit[1]},
            "estimated_seconds": round(self.estimated_seconds, 1),
        }


@dataclass
class BoardResult:
    key: str
    title: str
    board_id: str
    created: Counter[str]
    skipped: int
    warnings: list[str]
    changed: list[str]
    #: (url, signing secret) of each webhook this run created: the server shows a secret once.
    webhook_secrets: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.key,
            "title": self.title,
            "board": self.board_id,
            "created": {k: self.created.get(k, 0) for k in KINDS},
            "already_imported": self.skipped,
            "warnings": self.warnings,
            "changed_at_source": self.changed,
        }
        if self.webhook_secrets:
            data["webhooks"] = [{"url": url, "secret": secret} for url, secret in self.webhook_secrets]
        return data


@dataclass
class Summary:
    source: str
    boards: list[BoardResult]
    seconds: float
    requests: int
    source_requests: int

    def totals(self) -> dict[str, int]:
        return count_by_kind((board.created for board in self.boards), KINDS)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "boards": [b.to_json() for b in self.boards],
            "created": self.totals(),
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "source_requests": self.source_requests,
        }


@dataclass
class _BoardSteps:
    """What planning one board's cards needs: its keys, the members, the journal's hash, the sink."""

    source_name: str
    board_key: str
    #: source key -> journal key
    labels: dict[str, str]
    fields: dict[str, str]
    milestones: dict[str, str]
    #: normalised email -> workspace member id
    members: dict[str, str]
    h: Callable[[Any], str]
    want: Callable[..., None]
    warnings: list[str]
    where: str


class Importer:
    """Import source boards into one workspace through a logged-in, unlocked `Client`.

    `limit` is the server's mutation limit (requests, window seconds) the run stays
    under (`share` of it), None for a server with lifted limits; `clock` and `sleep`
    are where the pacing reads and waits (tests pass a manual clock).  `pacer` shares
    the window with a caller that sends its own mutations around the import; `members`
    (normalised email -> user id) stands for the workspace's list when the caller knows
    it already (a workspace that is still to be created, in a plan).  `on_secret(url, secret)`
    hears each new webhook's signing secret as soon as the server made it, before it is
    journaled: a run killed before it was shown deletes and re-creates that webhook.
    """

    def __init__(
        self,
        client: Client,
        workspace_id: str,
        *,
        journal_root: Path,
        limit: tuple[int, float] | None = RATE_LIMITS["mutation"],
        share: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[int, int], None] | None = None,
        on_stage: Stage | None = None,
        durable: bool = True,
        pacer: Pacer | None = None,
        members: dict[str, str] | None = None,
        on_secret: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.workspace_id = workspace_id
        self.journal_root = journal_root
        self.limit = limit
        self.share = share
        self._pacer = pacer or Pacer(None if limit is None else {"mutation": limit}, share=share, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._on_progress = on_progress
        self._on_stage = on_stage
        self._durable = durable
        self._members = members
        self._on_secret = on_secret
        #: (url, secret) of the webhooks created for the board being run
        self._secrets: list[tuple[str, str]] = []
        #: card journal key -> the card as the server answered its create (this process only):
        #: the base of the edit that sets its field values, which then needs no read
        self._created: dict[str, Card] = {}
        self._order = CreationOrder(clock)

    # --- planning ---------------------------------------------------------------------------
    def members_by_email(self) -> dict[str, str]:
        """Workspace members: normalised email -> user id (read once)."""
        if self._members is None:
            self._members = {normalize_email(m.email): m.user_id for m in self.client.members(self.workspace_id)}
        return self._members

    def _journal_path(self, source: Source, board: SourceBoard) -> Path:
        return journal_path(self.journal_root, source.url, board.key, self.workspace_id)

    def plan(self, source: Source, boards: Sequence[SourceBoard]) -> Plan:
        """What a run would do; reads the journals and the workspace members, writes nothing."""
        plans = [self._plan_board(source, b, Journal.load(self._journal_path(source, b))) for b in boards]
        return Plan(source.name, source.url, self.workspace_id, plans, self.limit, self.share)

    def _plan_board(self, source: Source, board: SourceBoard, journal: Journal) -> BoardPlan:
        steps: list[_Step] = []
        changed: list[str] = []
        skipped = 0

        def want(step: _Step, what: str = "") -> None:
            nonlocal skipped
            if step.key not in journal.done:
                steps.append(step)
                return
            skipped += 1
            if step.content and journal.content.get(step.key) != step.content:
                changed.append(f"{what} changed at the source since it was imported (kept as it is in MSKanban)")

        h = journal.hash
        where = f"board {board.title!r}"
        board_key = f"board:{board.key}"
        notes = notes_text(source.name, board.notes) if board.notes else ""
        description = "\n\n".join(part for part in (board.description, notes) if part)
        board_step = ("board", board_key, "", h([board.title, description]), (board.title, description))
        want(_Step(*board_step, listed=("board", "")), where)
        plan = _BoardSteps(
            source.name,
            board_key,
            {label.key: f"label:{label.key}" for label in board.labels},
            {f.key: f"field:{f.key}" for f in board.fields},
            {m.key: f"milestone:{m.key}" for m in board.milestones},
            self.members_by_email(),
            h,
            want,
            [],
            where,
        )
        for label in board.labels:
            content = h([label.name, label.color])
            want(_Step("label", plan.labels[label.key], board_key, content, label, ("label", board_key)),
                 f"{where}: label {label.name!r}")  # fmt: skip
        for custom in board.fields:
            content = h([custom.name, custom.type, list(custom.options)])
            want(_Step("custom_field", plan.fields[custom.key], board_key, content, custom, ("customField", board_key)),
                 f"{where}: field {custom.name!r}")  # fmt: skip
        for milestone in board.milestones:
            key = plan.milestones[milestone.key]
            content = h([milestone.title, milestone.due_at, milestone.archived])
            want(_Step("milestone", key, board_key, content, milestone, ("milestone", board_key)),
                 f"{where}: milestone {milestone.title!r}")  # fmt: skip
            if milestone.archived:
                want(_Step("archive", f"archive:{key}", key))
        for template in board.templates:
            content = h([template.title, template.body])
            listed = ("cardTemplate", board_key)
            want(_Step("template", f"template:{template.key}", board_key, content, template, listed),
                 f"{where}: template {template.title!r}")  # fmt: skip
        for column in board.columns:
            column_key = f"column:{column.key}"
            content = h([column.title] if column.wip_limit is None else [column.title, column.wip_limit])
            want(_Step("column", column_key, board_key, content, column, ("column", board_key)),
                 f"{where}: column {column.title!r}")  # fmt: skip
            for card in column.cards:
                self._plan_card(plan, card, column_key)
        for rule in board.automations:
            content = h([rule.name, list(rule.trigger), list(rule.action), rule.enabled])
            want(_Step("automation", f"automation:{rule.key}", board_key, content, rule, ("automation", board_key)),
                 f"{where}: automation {rule.name!r}")  # fmt: skip
        for hook in board.webhooks:
            content = h([hook.url, list(hook.events), hook.active])
            want(_Step("webhook", f"webhook:{hook.key}", board_key, content, hook, ("webhook", board_key)),
                 f"{where}: webhook {hook.url!r}")  # fmt: skip
        if board.archived:
            want(_Step("archive", f"archive:{board_key}", board_key))
        warnings = [f"{where}: {note}" for note in board.notes] + plan.warnings
        return BoardPlan(
            board.key,
            board.title,
            journal.done.get(board_key),
            Counter(s.kind for s in steps),
            sum(s.size for s in steps),
            skipped,
            warnings,
            changed,
            steps,
        )

    @staticmethod
    def _plan_card(plan: _BoardSteps, card: SourceCard, column_key: str) -> None:
        h, want = plan.h, plan.want
        card_key = f"card:{card.key}"
        where = f"{plan.where}: card {card.title!r}"
        content = h([card.title, card.description, card.due_at, card.archived])
        want(_Step("card", card_key, column_key, content, card, ("card", plan.board_key)), where)
        notes = list(card.notes)
        # right after the create, while the card the server answered is still its latest version
        values = {plan.fields[k]: v for k, v in card.field_values if k in plan.fields}
        notes += [f"a value of the unknown field {k}" for k, _ in card.field_values if k not in plan.fields]
        if values:
            want(_Step("field_values", f"{card_key}/fields", card_key, h(sorted(values.items())), values),
                 f"{where}: field values")  # fmt: skip
        for label_key in card.label_keys:
            if label_key in plan.labels:
                want(
                    _Step(
                        "label_link", f"{card_key}/{plan.labels[label_key]}", card_key, payload=plan.labels[label_key]
                    )
                )
            else:
                notes.append(f"label {label_key} is not defined on the board")
        for user in card.assignees:
            user_id = plan.members.get(normalize_email(user.email)) if user.email else None
            if user_id is None:
                notes.append(_unmatched(user))
            else:
                want(_Step("assignment", f"{card_key}/assign:{user.key}", card_key, payload=user_id))
        if card.milestone_key is not None:
            if card.milestone_key in plan.milestones:
                milestone = plan.milestones[card.milestone_key]
                want(_Step("milestone_link", f"{card_key}/milestone", card_key, h([milestone]), milestone),
                     f"{where}: milestone")  # fmt: skip
            else:
                notes.append(f"milestone {card.milestone_key} is not defined on the board")
        for checklist in card.checklists:
            list_key = f"checklist:{checklist.key}"
            listed = ("checklist", card_key)
            want(_Step("checklist", list_key, card_key, h([checklist.title]), checklist.title, listed), where)
            for item in checklist.items:
                step = _Step(
                    "checklist_item", f"item:{item.key}", list_key, h([item.text, item.done]), item,
                    ("checklistItem", card_key),
                )  # fmt: skip
                want(step, f"{where}: checklist item")
        for comment in card.comments:
            text = comment_text(comment)
            want(_Step("comment", f"comment:{comment.key}", card_key, h([text]), text, ("comment", card_key)),
                 f"{where}: comment by {comment.author} at {comment.created_at}")  # fmt: skip
        for attachment in card.attachments:
            if ciphertext_size(attachment.size) > ATTACHMENT_MAX_CIPHERTEXT:
                notes.append(f"attachment {attachment.name!r} ({attachment.size:,} bytes) is over the 25 MiB limit")
                continue
            step = _Step(
                "attachment", f"attachment:{attachment.key}", card_key,
                h([attachment.name, attachment.mime, attachment.size]), attachment, ("attachment", card_key),
                attachment.size,
            )  # fmt: skip
            want(step, f"{where}: attachment {attachment.name!r}")
        if notes:
            text = notes_text(plan.source_name, notes)
            want(_Step("note", f"note:{card_key}", card_key, h([text]), text, ("comment", card_key)),
                 f"{where}: import note")  # fmt: skip
            plan.warnings.extend(f"{where}: {note}" for note in notes)
        if card.archived:
            want(_Step("archive", f"archive:{card_key}", card_key))

    # --- running ----------------------------------------------------------------------------
    def run(self, source: Source, boards: Sequence[SourceBoard]) -> Summary:
        """Import `boards`: settle each journal's unfinished creates and plan what is left, then
        execute the plans, paced."""
        started = self._clock()
        journals: list[Journal] = []
        try:
            plans = []
            for board in boards:
                journals.append(journal := Journal.open(self._journal_path(source, board), durable=self._durable))
                self._check_target(journal, f"board:{board.key}")
                self._settle_all(journal)
                plans.append(self._plan_board(source, board, journal))
            return self._run_plans(source, boards, journals, plans, started)
        finally:
            for journal in journals:
                journal.close()

    def _run_plans(
        self,
        source: Source,
        boards: Sequence[SourceBoard],
        journals: Sequence[Journal],
        plans: Sequence[BoardPlan],
        started: float,
    ) -> Summary:
        total = sum(board_plan.mutations for board_plan in plans)
        done = 0
        results = []
        self._progress(done, total)
        for board, journal, board_plan in zip(boards, journals, plans, strict=True):
            created: Counter[str] = Counter()
            self._secrets = []
            board_key = f"board:{board.key}"
            for batch in _rounds(board_plan.steps, journal):
                flows = {step.key: flow for step in batch if (flow := self._sealed_ahead(journal, step, board_key))}
                try:
                    journal.sync()
                    for step in batch:
                        self._execute(journal, step, board_key, flows.pop(step.key, None))
                        created[step.kind] += 1
                        done += 1
                        self._progress(done, total)
                finally:
                    for flow in flows.values():
                        flow.close()
            board_id = journal.done[board_key]
            journal.compact()
            result = BoardResult(
                board.key,
                board.title,
                board_id,
                created,
                board_plan.skipped,
                board_plan.warnings,
                board_plan.changed,
                self._secrets,
            )
            results.append(result)
        return Summary(source.name, results, self._clock() - started, self.client.requests, source.requests)

    def _progress(self, done: int, total: int) -> None:
        if self._on_progress is not None:
            self._on_progress(done, max(total, done))

    def _check_target(self, journal: Journal, board_key: str) -> None:
        """An earlier run's board must still exist: never recreate it silently, never write elsewhere."""
        board_id = journal.done.get(board_key)
        if board_id is None:
            return
        try:
            self.client.board(board_id)
        except NotFoundError:
            raise UsageError(
                f"the board an earlier import created ({board_id}) is gone; delete {journal.path} to import anew"
            ) from None

    def _settle_all(self, journal: Journal) -> None:
        """Creates an earlier run sent without recording the answer: found on the server, or dropped."""
        listings: dict[tuple[str, str], dict[str, str]] = {}
        for key in list(journal.pending):
            self._settle(journal, key, listings)

    def _settle(self, journal: Journal, key: str, listings: dict[tuple[str, str], dict[str, str]]) -> None:
        for intent in journal.pending.get(key, []):
            if intent.kind == "webhook":
                self._settle_webhook(journal, intent.parent, intent.digest)
                continue
            where = (intent.kind, intent.parent)
            if where not in listings:
                listings[where] = self.client.sealed_digests(intent.kind, intent.parent)
            entity_id = listings[where].get(intent.digest)
            if entity_id is not None:
                journal.record(key, entity_id, intent.content)
                return
        journal.drop(key)

    def _settle_webhook(self, journal: Journal, board_id: str, digest: str) -> None:
        """A webhook an earlier run created without recording it: its signing secret was shown to
        nobody, so it is deleted and created again (its digest is unique on the run's own board)."""
        recorded = set(journal.done.values())
        for hook in self.client.webhooks(board_id):
            if hook.id not in recorded and webhook_digest(hook.url, hook.events) == digest:
                self._pace()
                self.client.delete_webhook(hook.id)

    def _execute(self, journal: Journal, step: _Step, board_key: str, flow: Flow[Any] | None = None) -> None:
        """One step (`flow`: its create, sealed ahead and journaled); a dropped connection or a
        5xx is settled against the server and retried."""
        for attempt in range(1, _STEP_ATTEMPTS + 1):
            try:
                if flow is None and step.key in journal.pending:
                    self._settle(journal, step.key, {})
                if step.key not in journal.done:
                    self._pace()
                    self._perform(journal, step, board_key, flow)
                return
            except (TransportError, ApiError) as exc:
                flow = None
                if _final(exc) or attempt == _STEP_ATTEMPTS:
                    raise
                self._sleep(min(30.0, 2.0 ** (attempt - 1)))

    def _sealed_ahead(self, journal: Journal, step: _Step, board_key: str) -> Flow[Any] | None:
        """The create of `step` sealed now, its intent written but not yet synced (`Journal.sync`
        makes the round's intents durable together, before the first of them is sent); None
        for a step that is not one plain create, or whose create reads before it seals (it is
        sent the plain way, its intent synced then)."""
        written: list[str] = []
        flow = self._creation(journal, step, board_key, self._on_sealed(journal, step, sync=False, written=written))
        if flow is None:
            return None
        ahead = primed(flow)
        if written:
            return ahead
        ahead.close()
        return None

    def _pace(self) -> None:
        delay = self._pacer.reserve("mutation")
        if delay > 0:
            self._sleep(delay)

    def _stage(self, stage: str, key: str) -> None:
        if self._on_stage is not None:
            self._on_stage(stage, key)

    def _creation(self, journal: Journal, step: _Step, board_key: str, sealed: SealedHook) -> Flow[Any] | None:
        """The flow that creates `step`'s entity (`sealed` journals its intent), or None for a
        step that is not one plain create."""
        parent = journal.done[step.parent] if step.parent else self.workspace_id
        board_id = journal.done.get(board_key, "")
        core = self.client.core
        if step.kind == "board":
            title, description = step.payload
            return core.create_board(parent, title, description, on_sealed=sealed)
        if step.kind == "label":
            label: SourceLabel = step.payload
            return core.create_label(parent, label.name, label.color, on_sealed=sealed)
        if step.kind == "custom_field":
            custom: SourceField = step.payload
            return core.create_custom_field(parent, custom.name, custom.type, custom.options, on_sealed=sealed)
        if step.kind == "milestone":
            milestone: SourceMilestone = step.payload
            return core.create_milestone(parent, milestone.title, milestone.due_at, on_sealed=sealed)
        if step.kind == "column":
            column = step.payload
            return core.create_column(parent, column.title, wip_limit=column.wip_limit, on_sealed=sealed)
        if step.kind == "template":
            template: SourceTemplate = step.payload
            return core.create_card_template(parent, template.title, template.body, on_sealed=sealed)
        if step.kind == "automation":
            rule: SourceRule = step.payload
            trigger, action = (_resolve_rule(part, journal) for part in (rule.trigger, rule.action))
            return core.create_automation(parent, rule.name, trigger, action, enabled=rule.enabled, on_sealed=sealed)
        if step.kind == "card":
            card: SourceCard = step.payload
            return core.create_card(
                parent, card.title, card.description, due_at=card.due_at, board_id=board_id, on_sealed=sealed
            )
        if step.kind == "checklist":
            return core.add_checklist(parent, step.payload, on_sealed=sealed)
        if step.kind == "checklist_item":
            item = step.payload
            return core.add_item(parent, item.text, done=item.done, board_id=board_id, on_sealed=sealed)
        if step.kind in ("comment", "note"):
            return core.add_comment(parent, step.payload, on_sealed=sealed)
        return None

    def _perform(self, journal: Journal, step: _Step, board_key: str, flow: Flow[Any] | None) -> None:
        """Send one step (`flow`: its create, sealed ahead).  Ids are passed explicitly (never
        taken from the client's memory of this process), so a run resumed by another process
        sends the same requests."""
        parent = journal.done[step.parent] if step.parent else self.workspace_id
        board_id = journal.done.get(board_key, "")
        if (wait := self._order.wait(step.kind, parent)) > 0:
            self._sleep(wait)
        if flow is None:
            flow = self._creation(journal, step, board_key, self._on_sealed(journal, step))
        client = self.client
        entity_id = ""
        if flow is not None:
            created = client.run(flow)
            entity_id = created.id
            if step.kind == "card" and step.payload.field_values:
                self._created[step.key] = created
        elif step.kind == "field_values":
            values = {journal.done[k]: v for k, v in step.payload.items()}
            client.edit_card(parent, custom_fields=values, base=self._created.pop(step.parent, None))
        elif step.kind == "milestone_link":
            client.set_milestone(parent, journal.done[step.payload])
        elif step.kind == "webhook":
            entity_id = self._create_webhook(journal, step, parent)
        elif step.kind == "label_link":
            client.add_label(parent, journal.done[step.payload])
        elif step.kind == "assignment":
            client.assign(parent, step.payload)
        elif step.kind == "attachment":
            entity_id = self._upload(parent, step.payload, self._on_sealed(journal, step))
        elif step.parent.startswith("board:"):
            client.update_board(parent, archived=True)
        elif step.parent.startswith("milestone:"):
            client.update_milestone(parent, archived=True, board_id=board_id)
        else:
            client.archive_card(parent)
        self._order.answered(step.kind, parent)
        self._stage("created", step.key)
        journal.record(step.key, entity_id, step.content)
        self._stage("recorded", step.key)

    def _on_sealed(
        self, journal: Journal, step: _Step, *, sync: bool = True, written: list[str] | None = None
    ) -> SealedHook:
        """The `on_sealed` of `step`'s create: its intent journaled (synced before the request
        leaves unless the caller syncs a round of them), the digest noted in `written`."""
        kind, listed_key = step.listed
        listed_under = journal.done[listed_key] if listed_key else self.workspace_id

        def sealed(digest: str) -> None:
            journal.intend(step.key, kind, listed_under, digest, step.content, sync=sync)
            if written is not None:
                written.append(digest)
            self._stage("sealed", step.key)

        return sealed

    def _create_webhook(self, journal: Journal, step: _Step, board_id: str) -> str:
        """A webhook has no envelope: its intent names it by URL and events (unique on the run's own board)."""
        hook: SourceWebhook = step.payload
        self._on_sealed(journal, step)(webhook_digest(hook.url, hook.events))
        webhook = self.client.create_webhook(board_id, hook.url, hook.events)
        if not hook.active:
            self._pace()
            self.client.update_webhook(webhook.id, active=False)
        if webhook.secret is not None:
            self._secrets.append((hook.url, webhook.secret))
            if self._on_secret is not None:
                self._on_secret(hook.url, webhook.secret)
        return webhook.id

    def _upload(self, card_id: str, attachment: SourceAttachment, sealed: SealedHook) -> str:
        with attachment.open() as (stream, size):
            if ciphertext_size(size) > ATTACHMENT_MAX_CIPHERTEXT:
                raise UsageError(f"attachment {attachment.name!r} grew over the limit at the source ({size:,} bytes)")
            uploaded = self.client.upload_attachment(
                card_id, stream, attachment.name, attachment.mime, size=size, on_sealed=sealed
            )
        return uploaded.id


def _rounds(steps: Sequence[_Step], journal: Journal) -> Iterable[list[_Step]]:
    """`steps` in rounds of ready ones: each step's parent (and where it is listed) already
    created, in the plan's order otherwise.  A round's creates are sealed and journaled
    together, so one fsync makes them all durable: cards of a column go in one round, the
    comments and checklists of those cards in the next, their items in the one after.
    Siblings keep their order (a step waits while an earlier one with the same parent
    does); a barrier step waits for every step before it.  Within a round, the comments
    (labels, assignees) of its cards are spread out (`_spread`)."""
    waiting = deque(steps)
    while waiting:
        # every step before the first waiting one is done, its parent too: it is always ready
        batch = [waiting.popleft()]
        passed: list[_Step] = []
        while batch[0].kind not in _BARRIERS and waiting and len(batch) < _ROUND_STEPS:
            step = waiting[0]
            if step.kind in _BARRIERS or len(passed) >= _ROUND_WINDOW:
                break
            waiting.popleft()
            listed = step.listed[1]
            ready = step.parent in journal.done and (not listed or listed in journal.done)
            (batch if ready else passed).append(step)
        waiting.extendleft(reversed(passed))
        yield _spread(batch)


def _spread(batch: list[_Step]) -> list[_Step]:
    """`batch` with each card's second comment (label, assignee) after every card's first, its
    third after every second, and so on.  The server lists them by creation time in
    milliseconds (`CreationOrder`): a card's next one sent right after its last would wait
    for that time to pass, sent after the other cards' ones it needs no wait.  A round's steps
    wait on nothing in it, and the order within each card's list stays: the sort is stable."""
    added: Counter[tuple[str, str]] = Counter()
    ranks = []
    for step in batch:
        listed = CreationOrder.KINDS.get(step.kind)
        if listed is None:
            ranks.append(0)
        else:
            ranks.append(added[listed, step.parent])
            added[listed, step.parent] += 1
    if not any(ranks):
        return batch
    return [batch[i] for i in sorted(range(len(batch)), key=ranks.__getitem__)]


def _resolve_rule(pairs: Sequence[tuple[str, str]], journal: Journal) -> dict[str, str]:
    """An automation's trigger or action with the new ids: a value that is a journal key (kind-
    prefixed, so never a bare id) becomes the id that entity was created as."""
    return {name: journal.done[value] if name != "type" and value in journal.done else value for name, value in pairs}


def _final(exc: TransportError | ApiError) -> bool:
    """Errors a retry cannot cure: 4xx answers, and a source that already used up its own retries."""
    return isinstance(exc, SourceUnavailable) or (isinstance(exc, ApiError) and exc.status < 500)


def _unmatched(user: SourceUser) -> str:
    if user.email is None:
        return f"assignee {user.name!r} ({user.key}): the source does not show their email"
    return f"assignee {user.name!r} <{user.email}>: no workspace member has this email"
