"""Workspace key rotation: copy a workspace into a new one under fresh keys, then verify the copy.

The protocol has no key versions, so a member who was removed keeps whatever workspace
and board keys they once opened.  Rotation therefore copies: a new workspace (fresh
workspace key), new boards (fresh board keys), every field opened here and sealed anew,
every attachment decrypted and re-encrypted under a new file key as it flows (a pipe
between the download and the upload: constant memory, no plaintext on disk).

The old workspace, read through the client, is an import source (`WorkspaceSource`), so
the import framework's plan, write-ahead journal, pacing and resume serve the copy.  What
lies outside one board — the new workspace itself and the invitations — is journaled in a
rekey journal of its own, with the same write-ahead rule.  Remaining members are invited
to the key pinned for them (never to a key seen first now, never to a changed one); the
copy is verified field by field against the old workspace before the old one may be
deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .._errors import KeyTrustError, UsageError
from .._pacing import Pacer
from .._profile import RATE_LIMITS
from ..client import Client
from ..crypto import normalize_email
from ..importers import (
    BoardRef,
    Importer,
    Journal,
    Plan,
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
    Stage,
    Summary,
    estimate_seconds,
    journal_path,
)

__all__ = ["RekeyPlan", "RekeyResult", "Rekeyer", "WorkspaceSource", "workspace_snapshot"]

#: Automation fields that name an entity of the board, and the journal-key prefix it maps to.
_RULE_REFERENCES = {"columnId": "column", "labelId": "label"}
_WORKSPACE_KEY = "workspace"


@dataclass(frozen=True, slots=True)
class Invitation:
    user_id: str
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A member of the old workspace who is not invited to the new one, and why."""

    email: str
    reason: str


class WorkspaceSource:
    """The old workspace as an import source: every board read and opened through `client`.

    `carried` maps the user ids of the members the new workspace will have to their emails:
    assignees and automations naming anyone else are left out (and listed in `warnings`).
    """

    name = "MSKanban"

    def __init__(self, client: Client, workspace_id: str, carried: Mapping[str, str]) -> None:
        self.client = client
        self.workspace_id = workspace_id
        self.url = f"{client.server}/workspaces/{workspace_id}"
        self._carried = dict(carried)
        self._started = client.requests
        self.warnings: list[str] = []

    @property
    def requests(self) -> int:
        return self.client.requests - self._started

    def boards(self, selectors: Sequence[str] = ()) -> list[BoardRef]:
        found = [BoardRef(b.id, b.title) for b in self.client.boards(self.workspace_id)]
        return [b for b in found if not selectors or b.key in selectors]

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""

    def read_board(self, ref: BoardRef) -> SourceBoard:
        client, board_id = self.client, ref.key
        board = client.board(board_id)
        where = f"board {board.title!r}"
        labels = tuple(SourceLabel(x.id, x.name, x.color or "") for x in client.labels(board_id))
        fields = tuple(SourceField(f.id, f.name, f.type, f.options) for f in client.custom_fields(board_id))
        milestones = tuple(
            SourceMilestone(m.id, m.title, m.due_at, m.archived) for m in client.milestones(board_id, archived=True)
        )
        templates = tuple(SourceTemplate(t.id, t.title, t.body) for t in client.card_templates(board_id))
        listed = client.cards(board_id)
        columns = tuple(
            SourceColumn(
                column.id,
                column.title,
                tuple(self._card(c.id, where) for c in listed if c.column_id == column.id),
                column.wip_limit,
            )
            for column in client.columns(board_id)
        )
        rules = []
        for automation in client.automations(board_id):
            rule = self._rule(automation.id, automation.name, automation.trigger, automation.action, where)
            if rule is not None:
                rules.append(SourceRule(automation.id, automation.name, rule[0], rule[1], automation.enabled))
        hooks = tuple(SourceWebhook(w.id, w.url, w.events, w.active) for w in client.webhooks(board_id))
        return SourceBoard(
            board_id,
            board.title,
            board.archived,
            labels,
            columns,
            fields,
            milestones,
            description=board.description,
            templates=templates,
            automations=tuple(rules),
            webhooks=hooks,
        )

    def _rule(
        self, rule_id: str, name: str, trigger: Mapping[str, Any], action: Mapping[str, Any], where: str
    ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] | None:
        parts = []
        for part in (trigger, action):
            pairs = []
            for key, value in part.items():
                text = str(value)
                if key in _RULE_REFERENCES:
                    text = f"{_RULE_REFERENCES[key]}:{text}"
                elif key == "userId" and text not in self._carried:
                    self.warnings.append(f"{where}: automation {name!r} names a member who is not invited: left out")
                    return None
                pairs.append((key, text))
            parts.append(tuple(pairs))
        return parts[0], parts[1]

    def _card(self, card_id: str, where: str) -> SourceCard:
        card = self.client.card(card_id)
        assignees = []
        for user_id in card.assignee_ids:
            email = self._carried.get(user_id)
            if email is None:
                self.warnings.append(f"{where}: card {card.title!r}: an assignee who is not invited is left out")
            else:
                assignees.append(SourceUser(user_id, email, email))
        comments = tuple(
            SourceComment(c.id, c.author_id, c.created_at, c.body, verbatim=True) for c in card.comments or ()
        )
        checklists = tuple(
            SourceChecklist(cl.id, cl.title, tuple(SourceChecklistItem(i.id, i.text, i.done) for i in cl.items))
            for cl in card.checklists or ()
        )
        attachments = tuple(
            SourceAttachment(a.id, a.name, a.mime, a.size, self._opener(a.id, a.size)) for a in card.attachments or ()
        )
        return SourceCard(
            card.id,
            card.title,
            card.description,
            card.due_at,
            card.archived,
            card.label_ids,
            tuple(assignees),
            comments,
            checklists,
            attachments,
            tuple(card.custom_fields.items()),
            card.milestone_id,
        )

    def _opener(
        self, attachment_id: str, size: int
    ) -> Callable[[], contextlib.AbstractContextManager[tuple[BinaryIO, int]]]:
        client = self.client

        @contextlib.contextmanager
        def open_plaintext() -> Iterator[tuple[BinaryIO, int]]:
            with _plaintext_pipe(client, attachment_id) as stream:
                yield stream, size

        return open_plaintext


@contextlib.contextmanager
def _plaintext_pipe(client: Client, attachment_id: str) -> Iterator[BinaryIO]:
    """The decrypted content of an attachment as a readable stream, decrypted while it downloads.

    A second connection (same session and keys) downloads and decrypts into a pipe in a
    thread while the caller reads the other end: the kernel's pipe buffer is all the
    plaintext ever held, and it never touches the disk.  A download or decryption failure
    is raised here, in place of whatever the reader saw (a stream that ended early)."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink, Client(client.server, token=client.token) as fetcher:
                fetcher.use_keys(client.keys)
                fetcher.download_attachment(attachment_id, sink)
        except BrokenPipeError:
            pass  # the reader stopped first: its own error is the one to report
        except BaseException as exc:  # handed to the reading thread
            failure.append(exc)

    thread = threading.Thread(target=pump, name=f"rekey-{attachment_id}", daemon=True)
    reader = os.fdopen(read_fd, "rb")
    thread.start()
    try:
        yield reader
    finally:
        reader.close()
        thread.join()
        if failure:
            raise failure[0]


@contextlib.contextmanager
def _strict(client: Client) -> Iterator[None]:
    """Reads that raise on a field that does not decrypt: a placeholder must never be copied
    or compared as if it were the content (the CLI's client reads leniently otherwise)."""
    lenient, client.core.lenient_reads = client.core.lenient_reads, False
    try:
        yield
    finally:
        client.core.lenient_reads = lenient


# --- the snapshot that verification compares ------------------------------------------------


class _Digest:
    """A write-only sink that keeps the SHA-256 of what passed (an attachment's plaintext)."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)


def workspace_snapshot(client: Client, workspace_id: str, users: Mapping[str, str]) -> list[Any]:
    """Every decrypted field of every board of a workspace, with ids replaced by what they name.

    References become the entity's rank among its kind (labels, fields, milestones, columns);
    users become emails, and users outside `users` (id -> email) are left out.  Two workspaces
    whose snapshots are equal hold the same content; attachments are compared by the SHA-256
    of their decrypted content."""
    boards = []
    for board in sorted(client.boards(workspace_id), key=lambda b: (b.title, b.id)):
        boards.append(_board_snapshot(client, board.id, users))
    return sorted(boards, key=repr)


def _board_snapshot(client: Client, board_id: str, users: Mapping[str, str]) -> dict[str, Any]:
    board = client.board(board_id)
    labels = sorted(client.labels(board_id), key=lambda x: (x.name, x.color or ""))
    label_rank = {x.id: i for i, x in enumerate(labels)}
    fields = sorted(client.custom_fields(board_id), key=lambda f: (f.name, f.type, f.options))
    field_rank = {f.id: i for i, f in enumerate(fields)}
    milestones = sorted(client.milestones(board_id, archived=True), key=lambda m: (m.title, m.due_at or "", m.archived))
    milestone_rank = {m.id: i for i, m in enumerate(milestones)}
    columns = client.columns(board_id)
    column_rank = {c.id: i for i, c in enumerate(columns)}
    listed = client.cards(board_id)

    def card(card_id: str) -> tuple[Any, ...]:
        c = client.card(card_id)
        attachments = []
        for a in c.attachments or ():
            digest = _Digest()
            client.download_attachment(a.id, digest)  # type: ignore[arg-type]  # a sink needs only write()
            attachments.append((a.name, a.mime, a.size, digest.hash.hexdigest()))
        return (
            c.title,
            c.description,
            c.due_at,
            c.archived,
            sorted(label_rank[i] for i in c.label_ids),
            sorted(users[u] for u in c.assignee_ids if u in users),
            sorted((field_rank[k], v) for k, v in c.custom_fields.items()),
            None if c.milestone_id is None else milestone_rank[c.milestone_id],
            [x.body for x in c.comments or ()],
            [(cl.title, [(i.text, i.done) for i in cl.items]) for cl in c.checklists or ()],
            sorted(attachments),
        )

    def rule(part: Mapping[str, Any]) -> list[tuple[str, Any]]:
        ranks = {"columnId": column_rank, "labelId": label_rank}
        return sorted((k, ranks[k].get(str(v)) if k in ranks else users.get(str(v), v)) for k, v in part.items())

    automations = [
        (a.name, rule(a.trigger), rule(a.action), a.enabled)
        for a in client.automations(board_id)
        if all(str(p.get("userId")) in users for p in (a.trigger, a.action) if "userId" in p)
    ]
    return {
        "title": board.title,
        "description": board.description,
        "archived": board.archived,
        "labels": [(x.name, x.color) for x in labels],
        "fields": [(f.name, f.type, f.options) for f in fields],
        "milestones": [(m.title, m.due_at, m.archived) for m in milestones],
        "templates": sorted((t.title, t.body) for t in client.card_templates(board_id)),
        "automations": sorted(automations, key=repr),
        "webhooks": sorted((w.url, w.events, w.active) for w in client.webhooks(board_id)),
        "columns": [
            (column.title, column.wip_limit, [card(c.id) for c in listed if c.column_id == column.id])
            for column in columns
        ],
    }


# --- plan, run, verify ------------------------------------------------------------------------


@dataclass
class RekeyPlan:
    old_id: str
    old_name: str
    new_name: str
    #: The new workspace an earlier run created, or None.
    new_id: str | None
    invite: list[Invitation]
    not_invited: list[Exclusion]
    boards: Plan
    warnings: list[str]
    limit: tuple[int, float] | None
    share: float

    @property
    def mutations(self) -> int:
        return (self.new_id is None) + len(self.invite) + self.boards.mutations

    @property
    def estimated_seconds(self) -> float:
        return estimate_seconds(self.mutations, self.limit, self.share)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": self.old_id,
            "name": self.old_name,
            "new_name": self.new_name,
            "new_workspace": self.new_id or "new workspace",
            "invite": [{"email": i.email, "role": i.role} for i in self.invite],
            "not_invited": [{"email": e.email, "reason": e.reason} for e in self.not_invited],
            "boards": [b.to_json() for b in self.boards.boards],
            "create": self.boards.totals(),
            "warnings": self.warnings,
            "mutations": self.mutations,
            "estimated_seconds": round(self.estimated_seconds, 1),
        }


@dataclass
class RekeyResult:
    old_id: str
    new_id: str
    invited: list[Invitation]
    not_invited: list[Exclusion]
    summary: Summary
    warnings: list[str]
    verified: bool
    #: What differs between the old and the new workspace (empty when verified).
    differences: list[str]
    old_deleted: bool
    seconds: float = 0.0
    webhook_secrets: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": self.old_id,
            "new_workspace": self.new_id,
            "invited": [{"email": i.email, "role": i.role} for i in self.invited],
            "not_invited": [{"email": e.email, "reason": e.reason} for e in self.not_invited],
            "created": self.summary.totals(),
            "boards": {b.board_id: b.title for b in self.summary.boards},
            "warnings": self.warnings,
            "verified": self.verified,
            "differences": self.differences,
            "old_deleted": self.old_deleted,
            "webhooks": [{"url": url, "secret": secret} for url, secret in self.webhook_secrets],
            "seconds": round(self.seconds, 2),
        }


class Rekeyer:
    """Rotate the keys of one workspace through a logged-in, unlocked `Client`.

    `journal_root` is the config directory (the rekey journal and the boards' import
    journals live below it); `limit`, `share`, `clock`, `sleep`, `on_stage`, `on_secret`
    and `durable` are the importer's (the same pacing window serves the workspace, the
    invitations and the boards).
    """

    def __init__(
        self,
        client: Client,
        workspace_id: str,
        *,
        journal_root: Path,
        new_name: str | None = None,
        limit: tuple[int, float] | None = RATE_LIMITS["mutation"],
        share: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[int, int], None] | None = None,
        on_stage: Stage | None = None,
        on_secret: Callable[[str, str], None] | None = None,
        durable: bool = True,
    ) -> None:
        self.client = client
        self.workspace_id = workspace_id
        self.journal_root = journal_root
        self._new_name = new_name
        self.limit = limit
        self.share = share
        self._pacer = Pacer(None if limit is None else {"mutation": limit}, share=share, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._on_progress = on_progress
        self._on_stage = on_stage
        self._on_secret = on_secret
        self._durable = durable

    @property
    def journal_path(self) -> Path:
        return journal_path(self.journal_root, f"{self.client.server}#rekey", self.workspace_id, "")

    # --- who comes along ------------------------------------------------------------------
    def _members(self) -> tuple[str, list[Invitation], list[Exclusion]]:
        """This account's id, the members to invite (their pinned key unchanged) and the others.

        The pins are read before the member list is: listing pins the keys it sees first,
        and a key seen first now was never checked by anyone."""
        me = self.client.me().user.id
        pinned = self.client.core.trust.pins()
        invite, excluded = [], []
        for member in self.client.members(self.workspace_id):
            if member.user_id == me:
                continue
            key = pinned.get(member.user_id)
            if key is None:
                excluded.append(
                    Exclusion(member.email, "no key is pinned for them: list the members, verify, run again")
                )
            elif key != member.public_key:
                excluded.append(Exclusion(member.email, "their key changed since it was pinned: verify it, run again"))
            else:
                role = "admin" if member.role == "owner" else member.role
                invite.append(Invitation(member.user_id, member.email, role))
        return me, invite, excluded

    # --- planning -------------------------------------------------------------------------
    def plan(self) -> RekeyPlan:
        """What a run would do; reads the old workspace and the journals, writes nothing."""
        journal = Journal.load(self.journal_path)
        new_id = journal.done.get(_WORKSPACE_KEY)
        with _strict(self.client):
            old = self.client.workspace(self.workspace_id)
            me, invite, excluded = self._members()
            earlier = [] if new_id is None else self._invited(new_id, journal)
            invite = [i for i in invite if f"invite:{i.user_id}" not in journal.done]
            carried = self._carried(me, [*earlier, *invite])
            source = WorkspaceSource(self.client, self.workspace_id, carried)
            boards = [source.read_board(ref) for ref in source.boards()]
        # the members the copy will have, so that the plan matches assignees as the run will
        members = {normalize_email(email): user_id for user_id, email in carried.items()}
        plan = self._importer(new_id or "", members).plan(source, boards)
        return RekeyPlan(
            old.id, old.name, self._new_name or old.name, new_id, invite, excluded, plan, source.warnings,
            self.limit, self.share,
        )  # fmt: skip

    def _invited(self, new_id: str, journal: Journal) -> list[Invitation]:
        """Members an earlier run invited (for the assignees the copy carries)."""
        return [
            Invitation(m.user_id, m.email, m.role)
            for m in self.client.members(new_id)
            if f"invite:{m.user_id}" in journal.done
        ]

    def _carried(self, me: str, members: Sequence[Invitation]) -> dict[str, str]:
        """User id -> email of everyone the new workspace will have: this account and `members`."""
        own = self.client.me().user
        return {me: own.email} | {i.user_id: i.email for i in members}

    def _importer(self, workspace_id: str, members: dict[str, str] | None = None) -> Importer:
        return Importer(
            self.client,
            workspace_id,
            journal_root=self.journal_root,
            limit=self.limit,
            share=self.share,
            clock=self._clock,
            sleep=self._sleep,
            on_progress=self._on_progress,
            on_stage=self._on_stage,
            durable=self._durable,
            pacer=self._pacer,
            members=members,
            on_secret=self._on_secret,
        )

    # --- running --------------------------------------------------------------------------
    def run(self, *, delete_old: bool = False) -> RekeyResult:
        """Copy, verify, and (only if the copy verified and `delete_old`) delete the old workspace.

        The whole old workspace is read and opened before anything is written: a field that
        does not decrypt stops the rotation before it starts (it could not be copied)."""
        started = self._clock()
        with _strict(self.client):
            old = self.client.workspace(self.workspace_id)
            me, invite, excluded = self._members()
            carried = self._carried(me, invite)
            source = WorkspaceSource(self.client, self.workspace_id, carried)
            boards = [source.read_board(ref) for ref in source.boards()]
        journal = Journal.open(self.journal_path, durable=self._durable)
        try:
            new_id = self._new_workspace(journal, self._new_name or old.name)
            present = {m.user_id for m in self.client.members(new_id)}
            for invitation in invite:
                key = f"invite:{invitation.user_id}"
                if key in journal.done:
                    continue
                if invitation.user_id not in present:
                    self._pace()
                    try:
                        self.client.invite(new_id, invitation.email, invitation.role)
                    except KeyTrustError as exc:  # the key changed since the member list was read
                        excluded.append(Exclusion(invitation.email, str(exc)))
                        carried.pop(invitation.user_id)
                        continue
                journal.record(key, "")
            summary = self._importer(new_id).run(source, boards)
            journal.compact()
        finally:
            journal.close()
        invited = [i for i in invite if i.user_id in carried]
        with _strict(self.client):
            differences = self.differences(new_id, carried)
        deleted = False
        if delete_old and not differences:
            self.client.delete_workspace(self.workspace_id)
            deleted = True
        secrets = [secret for board in summary.boards for secret in board.webhook_secrets]
        return RekeyResult(
            self.workspace_id, new_id, invited, excluded, summary, source.warnings, not differences, differences,
            deleted, self._clock() - started, secrets,
        )  # fmt: skip

    def differences(self, new_id: str, users: Mapping[str, str]) -> list[str]:
        """Where the new workspace's content differs from the old one's (empty: the copy verifies)."""
        old = workspace_snapshot(self.client, self.workspace_id, users)
        new = workspace_snapshot(self.client, new_id, users)
        if len(old) != len(new):
            return [f"the old workspace has {len(old)} boards, the new one {len(new)}"]
        found = []
        for before, after in zip(old, new, strict=True):
            for part in before:
                if before[part] != after.get(part):
                    found.append(f"board {before['title']!r}: {part} differ")
        return found

    def _new_workspace(self, journal: Journal, name: str) -> str:
        """The new workspace: the one an earlier run created (settled by its envelope digest) or a new one."""
        if journal.pending.get(_WORKSPACE_KEY):
            listed = self.client.sealed_digests("workspace", "")
            for intent in journal.pending[_WORKSPACE_KEY]:
                if intent.digest in listed:
                    journal.record(_WORKSPACE_KEY, listed[intent.digest])
                    break
            else:
                journal.drop(_WORKSPACE_KEY)
        new_id = journal.done.get(_WORKSPACE_KEY)
        if new_id is not None:
            if new_id not in {w.id for w in self.client.workspaces()}:
                raise UsageError(
                    f"the workspace an earlier rekey created ({new_id}) is gone; delete {journal.path} to rekey anew"
                )
            return new_id

        def sealed(digest: str) -> None:
            journal.intend(_WORKSPACE_KEY, "workspace", "", digest, "")
            if self._on_stage is not None:
                self._on_stage("sealed", _WORKSPACE_KEY)

        self._pace()
        created = self.client.create_workspace(name, on_sealed=sealed)
        if self._on_stage is not None:
            self._on_stage("created", _WORKSPACE_KEY)
        journal.record(_WORKSPACE_KEY, created.id)
        return created.id

    def _pace(self) -> None:
        delay = self._pacer.reserve("mutation")
        if delay > 0:
            self._sleep(delay)
