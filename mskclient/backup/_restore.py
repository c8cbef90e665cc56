"""Restore a backup into an account: the backup's ciphertext re-sent as it is, new ids, one copy.

Associated data names no ids (only the entity and field), so every content envelope of the
backup opens wherever it is stored: the restore decrypts nothing but key material.  It opens
each workspace key with the backup account's password, seals it to the *target* account's
public key, and re-sends `encBoardKey`, every title, description, comment, checklist, field
value (re-keyed by the new custom field ids) and attachment (its ciphertext, streamed from
the backup with its original `encFileKey`) unchanged.

It is built on the import journal (`mskclient.importers.Journal`): one journal per source
workspace and copy, in which each create is written ahead with the SHA-256 of the very
envelope string sent (for a workspace, of its freshly sealed key, which no other workspace
can have), so a run killed at any point settles against the server and leaves exactly one
copy.  Mutations are paced under the server's limit; `plan()` counts what `run()` does.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._errors import ApiError, NotFoundError, ProtocolError, TransportError, UsageError
from .._json import Obj, json_object, loads
from .._pacing import CreationOrder, Pacer
from .._profile import RATE_LIMITS, is_valid_id
from .._profile import field as field_spec
from ..client import Client, Request, Response, envelope_digest
from ..crypto import (
    BoardKey,
    WorkspaceKey,
    b64u_decode,
    ciphertext_size,
    encrypt_field,
    open_workspace_key,
    seal_workspace_key,
    unwrap_board_key,
)
from ..export import keys_from_password
from ..importers import Journal, Stage, count_by_kind, estimate_seconds, journal_path
from ._format import Backup, attachment_member

__all__ = ["KINDS", "RestorePlan", "RestoreSummary", "Restorer", "WorkspacePlan", "target_public_key"]

#: Every kind of step, in the order the counts are shown.
KINDS: Final = (
    "workspace",
    "board",
    "label",
    "custom_field",
    "milestone",
    "card_template",
    "column",
    "card",
    "field_values",
    "label_link",
    "assignment",
    "milestone_link",
    "checklist",
    "checklist_item",
    "comment",
    "attachment",
    "note",
    "archive",
)

#: Attempts of one step after a dropped connection or a 5xx before the run stops.
_STEP_ATTEMPTS: Final = 4

#: First line of the comment a restore adds to a card whose comments other members wrote: the
#: server stamps the restoring user on every comment, and the bodies are carried encrypted as
#: they are, so the original authors and times are listed here instead.
NOTE_HEADING: Final = "Restored from a backup. The comments above by other members were written by:"


@dataclass(frozen=True, slots=True)
class _Ref:
    """The new id of the entity a journal key stands for, filled in when the step is sent."""

    key: str


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str
    #: Journal key: the backup's id, prefixed by kind (plus a suffix for link steps).
    key: str
    #: Journal key of the entity the route hangs on ("" for the workspace itself).
    parent: str
    method: str
    route: str
    #: The request body: the backup's envelopes as they are, `_Ref`s where a new id goes.
    body: Any = None
    #: Where the server lists the created entity (kind for the digests, journal key of the parent)
    #: and the body member whose envelope identifies it; empty for steps that create nothing.
    listed: tuple[str, str] = ("", "")
    ident: str = ""
    #: Attachment: the backup's attachment id and its plaintext size.
    attachment: str = ""
    size: int = 0


@dataclass
class WorkspacePlan:
    """One workspace of the backup: what a run would create, and what it cannot carry."""

    source_id: str
    #: The workspace an earlier run created (this copy), or None for a new one.
    target: str | None
    create: Counter[str]
    attachment_bytes: int
    skipped: int
    #: Members of the original workspace other than the backup's account: (email, role).
    members: list[tuple[str, str]]
    #: Comments written by those members: the restored ones are stamped with the restoring user.
    foreign_comments: int
    #: Assignments of those members, not carried (they are not members of the new workspace).
    dropped_assignments: int
    journal: Path
    steps: list[_Step] = field(repr=False)

    @property
    def mutations(self) -> int:
        return len(self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source_id,
            "target": self.target or "new workspace",
            "create": {k: self.create.get(k, 0) for k in KINDS},
            "attachment_bytes": self.attachment_bytes,
            "already_restored": self.skipped,
            "mutations": self.mutations,
            "members_not_restored": [{"email": e, "role": r} for e, r in self.members],
            "comments_by_other_members": self.foreign_comments,
            "assignments_not_carried": self.dropped_assignments,
            "journal": str(self.journal),
        }


@dataclass
class RestorePlan:
    workspaces: list[WorkspacePlan]
    limit: tuple[int, float] | None
    share: float

    @property
    def mutations(self) -> int:
        return sum(w.mutations for w in self.workspaces)

    @property
    def estimated_seconds(self) -> float:
        return estimate_seconds(self.mutations, self.limit, self.share)

    def totals(self) -> dict[str, int]:
        return count_by_kind((workspace.create for workspace in self.workspaces), KINDS)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspaces": [w.to_json() for w in self.workspaces],
            "create": self.totals(),
            "mutations": self.mutations,
            "estimated_seconds": round(self.estimated_seconds, 1),
            "limit": None if self.limit is None else list(self.limit),
        }


@dataclass
class RestoreSummary:
    #: (source workspace id, new workspace id, created counts, plan of that workspace)
    workspaces: list[tuple[str, str, Counter[str], WorkspacePlan]]
    seconds: float
    requests: int

    def totals(self) -> dict[str, int]:
        return count_by_kind((created for _, _, created, _ in self.workspaces), KINDS)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspaces": [
                {**plan.to_json(), "workspace": new_id, "created": {k: created.get(k, 0) for k in KINDS}}
                for _, new_id, created, plan in self.workspaces
            ],
            "created": self.totals(),
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
        }


def target_public_key(client: Client) -> tuple[str, bytes]:
    """The logged-in account's id and public key (what the workspace keys are sealed to).

    Read raw: an account without a usable public key is a clear error here, not a parse
    failure deeper down."""
    user = json_object(loads(client.run(_one(Request("GET", "/me"))).body, "/me"), "me").get("user")
    account = json_object(user, "me.user")
    account_id, text = account.get("id"), account.get("publicKey")
    if not is_valid_id(account_id):
        raise ProtocolError("/me: the user has no valid id")
    try:
        key = b64u_decode(text) if isinstance(text, str) else b""
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError(
            f"the account logged in at {client.server} has no public key to seal the workspace keys to "
            "(it was made without end-to-end keys): log in with the password in a current client once, "
            "or restore into another account"
        )
    return str(account_id), key


def _one(request: Request) -> Generator[Request, Response, Response]:
    response = yield request
    return response


class Restorer:
    """Restore a backup's workspaces into the account `client` is logged in to (a session suffices).

    `password` opens the backup account's key material (asked only when planning needs it);
    `copy` chooses the journal generation: None resumes the latest copy (or starts the first),
    "new" starts another copy (`--as-new`).
    """

    def __init__(
        self,
        client: Client,
        backup: Backup,
        password: Callable[[], str],
        *,
        journal_root: Path,
        as_new: bool = False,
        workspaces: Sequence[str] = (),
        limit: tuple[int, float] | None = RATE_LIMITS["mutation"],
        share: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: Callable[[int, int], None] | None = None,
        on_stage: Stage | None = None,
        durable: bool = True,
    ) -> None:
        self.client = client
        self.backup = backup
        self.limit, self.share = limit, share
        self._pacer = Pacer(None if limit is None else {"mutation": limit}, share=share, clock=clock)
        self._clock, self._sleep = clock, sleep
        self._order = CreationOrder(clock)
        self._on_progress, self._on_stage = on_progress, on_stage
        self._durable = durable
        self._root = journal_root
        self._as_new = as_new
        self._document = self._read_document()
        self._entries = self._choose(workspaces)
        self.account_id, self.public_key = target_public_key(client)
        keys = keys_from_password(self._document, password())
        self._keys: dict[str, WorkspaceKey] = {}
        #: board id -> board key: only to seal the attribution notes (nothing is decrypted with it)
        self._board_keys: dict[str, BoardKey] = {}
        for entry in self._entries:
            ws_id = _id(entry, "workspace")
            sealed = json_object(entry.get("membership"), "membership").get("encWorkspaceKey")
            if not isinstance(sealed, str):
                raise ProtocolError(f"{backup.path}: workspace {ws_id} has no sealed workspace key")
            self._keys[ws_id] = open_workspace_key(sealed, keys.keypair, ws_id)
            for bundle in _list(entry, "boards"):
                board = json_object(bundle.get("board"), "board")
                board_id = _id(bundle, "board")
                self._board_keys[board_id] = unwrap_board_key(self._keys[ws_id], _text(board, "encBoardKey"), board_id)
        self._journals = {_id(e, "workspace"): self._journal_for(_id(e, "workspace")) for e in self._entries}

    # --- the document ---------------------------------------------------------------------------
    def _read_document(self) -> Mapping[str, Any]:
        """The backup's export document (held in memory; attachments are streamed when sent)."""
        try:
            with self.backup.open_export() as source:
                raw = source.read()
        except zipfile.BadZipFile as exc:
            raise ProtocolError(f"{self.backup.path}: member export.json is damaged: {exc}") from None
        return json_object(loads(raw, f"{self.backup.path}: export.json"), "export")

    def _choose(self, chosen: Sequence[str]) -> list[Mapping[str, Any]]:
        entries = _list(self._document, "workspaces")
        known = {_id(e, "workspace") for e in entries}
        missing = [w for w in chosen if w not in known]
        if missing:
            raise UsageError(f"the backup holds no workspace {', '.join(missing)} (give workspace ids of the backup)")
        return [e for e in entries if not chosen or _id(e, "workspace") in chosen]

    def _journal_for(self, ws_id: str) -> Path:
        """The journal of this workspace's copy: the latest one, or a fresh one with `as_new`."""
        manifest = self.backup.manifest

        def path(copy: int) -> Path:
            source = f"mskclient-backup {manifest.server} {manifest.account_id}"
            return journal_path(self._root, source, f"{ws_id}#{copy}", f"{self.client.server} {self.account_id}")

        copy = 0
        while path(copy + 1).exists():
            copy += 1
        if self._as_new and path(copy).exists():
            copy += 1
        return path(copy)

    # --- planning -------------------------------------------------------------------------------
    def plan(self) -> RestorePlan:
        """What a run would do, against each workspace's journal; writes nothing."""
        plans = [self._plan(e, Journal.load(self._journals[_id(e, "workspace")])) for e in self._entries]
        return RestorePlan(plans, self.limit, self.share)

    def _plan(self, entry: Mapping[str, Any], journal: Journal) -> WorkspacePlan:
        ws_id = _id(entry, "workspace")
        source_account = self.backup.manifest.account_id
        members = _list(entry, "members")
        others = [(_text(m, "email"), _text(m, "role")) for m in members if m.get("userId") != source_account]
        emails = {str(m.get("userId")): _text(m, "email") for m in members}
        steps: list[_Step] = []
        skipped = 0

        def want(step: _Step) -> None:
            nonlocal skipped
            if step.key in journal.done:
                skipped += 1
            else:
                steps.append(step)

        ws_key = f"workspace:{ws_id}"
        workspace = json_object(entry.get("workspace"), "workspace")
        want(
            _Step(
                "workspace",
                ws_key,
                "",
                "POST",
                "/workspaces",
                {"encName": _text(workspace, "encName")},
                ("workspace", ""),
                "encWorkspaceKey",
            )
        )
        foreign = dropped = 0
        for bundle in _list(entry, "boards"):
            board = json_object(bundle.get("board"), "board")
            board_key = f"board:{_id(bundle, 'board')}"
            body = _pick(board, "encTitle", "encBoardKey", "encDescription")
            want(
                _Step("board", board_key, ws_key, "POST", "/workspaces/{}/boards", body, ("board", ws_key), "encTitle")
            )
            for label in _list(bundle, "labels"):
                want(
                    _Step(
                        "label",
                        f"label:{_id(label)}",
                        board_key,
                        "POST",
                        "/boards/{}/labels",
                        _pick(label, "encName", "color"),
                        ("label", board_key),
                        "encName",
                    )
                )
            for custom in _list(bundle, "customFields"):
                want(
                    _Step(
                        "custom_field",
                        f"field:{_id(custom)}",
                        board_key,
                        "POST",
                        "/boards/{}/custom-fields",
                        _pick(custom, "encName", "type", "encOptions"),
                        ("customField", board_key),
                        "encName",
                    )
                )
            for milestone in _list(bundle, "milestones"):
                key = f"milestone:{_id(milestone)}"
                want(
                    _Step(
                        "milestone",
                        key,
                        board_key,
                        "POST",
                        "/boards/{}/milestones",
                        _pick(milestone, "encTitle", "dueAt"),
                        ("milestone", board_key),
                        "encTitle",
                    )
                )
                if milestone.get("archived") is True:
                    want(_Step("archive", f"archive:{key}", key, "PATCH", "/milestones/{}", {"archived": True}))
            for template in _list(bundle, "cardTemplates"):
                want(
                    _Step(
                        "card_template",
                        f"template:{_id(template)}",
                        board_key,
                        "POST",
                        "/boards/{}/card-templates",
                        _pick(template, "encTitle", "encBody"),
                        ("cardTemplate", board_key),
                        "encTitle",
                    )
                )
            for column in _list(bundle, "columns"):
                want(
                    _Step(
                        "column",
                        f"column:{_id(column)}",
                        board_key,
                        "POST",
                        "/boards/{}/columns",
                        _pick(column, "encTitle", "position", "wipLimit"),
                        ("column", board_key),
                        "encTitle",
                    )
                )
            cards = sorted(_list(bundle, "cards"), key=lambda c: (str(c.get("columnId")), _number(c, "position")))
            for card in cards:
                counts = self._plan_card(card, board_key, emails, want)
                foreign += counts[0]
                dropped += counts[1]
            if board.get("archived") is True:
                want(_Step("archive", f"archive:{board_key}", board_key, "PATCH", "/boards/{}", {"archived": True}))
        return WorkspacePlan(
            ws_id,
            journal.done.get(ws_key),
            Counter(s.kind for s in steps),
            sum(s.size for s in steps),
            skipped,
            others,
            foreign,
            dropped,
            journal.path,
            steps,
        )

    def _plan_card(
        self, card: Mapping[str, Any], board_key: str, emails: Mapping[str, str], want: Callable[[_Step], None]
    ) -> tuple[int, int]:
        """The steps of one card; returns (comments by other members, assignments not carried)."""
        source_account = self.backup.manifest.account_id
        card_key = f"card:{_id(card)}"
        column_key = f"column:{_id(card, 'columnId')}"
        want(
            _Step(
                "card",
                card_key,
                column_key,
                "POST",
                "/columns/{}/cards",
                _pick(card, "encTitle", "encDescription", "dueAt", "position"),
                ("card", board_key),
                "encTitle",
            )
        )
        values = card.get("customFields") or {}
        if not isinstance(values, dict):
            raise ProtocolError(f"card {_id(card)}: customFields is not an object")
        if values:
            body = {"customFields": {_Ref(f"field:{_valid(k)}"): v for k, v in values.items()}}
            want(_Step("field_values", f"{card_key}/fields", card_key, "PATCH", "/cards/{}", body))
        for label_id in card.get("labelIds") or []:
            want(
                _Step(
                    "label_link",
                    f"{card_key}/label:{_valid(label_id)}",
                    card_key,
                    "POST",
                    "/cards/{}/labels",
                    {"labelId": _Ref(f"label:{label_id}")},
                )
            )
        dropped = 0
        for user_id in card.get("assigneeIds") or []:
            if user_id != source_account:
                dropped += 1
                continue
            want(
                _Step(
                    "assignment",
                    f"{card_key}/assign",
                    card_key,
                    "POST",
                    "/cards/{}/assignments",
                    {"userId": self.account_id},
                )
            )
        milestone = card.get("milestoneId")
        if milestone is not None:
            want(
                _Step(
                    "milestone_link",
                    f"{card_key}/milestone",
                    card_key,
                    "PUT",
                    "/cards/{}/milestone",
                    {"milestoneId": _Ref(f"milestone:{_valid(milestone)}")},
                )
            )
        for checklist in sorted(_list(card, "checklists"), key=lambda c: _number(c, "position")):
            list_key = f"checklist:{_id(checklist)}"
            want(
                _Step(
                    "checklist",
                    list_key,
                    card_key,
                    "POST",
                    "/cards/{}/checklists",
                    _pick(checklist, "encTitle", "position"),
                    ("checklist", card_key),
                    "encTitle",
                )
            )
            for item in sorted(_list(checklist, "items"), key=lambda i: _number(i, "position")):
                want(
                    _Step(
                        "checklist_item",
                        f"item:{_id(item)}",
                        list_key,
                        "POST",
                        "/checklists/{}/items",
                        _pick(item, "encText", "done", "position"),
                        ("checklistItem", card_key),
                        "encText",
                    )
                )
        written_by: list[str] = []
        for comment in sorted(_list(card, "comments"), key=lambda c: (str(c.get("createdAt")), _id(c))):
            author = str(comment.get("authorId"))
            if author != source_account:
                who = emails.get(author, f"a former member ({author[:40]})")
                written_by.append(f"- {who} · {str(comment.get('createdAt'))[:40]}")
            want(
                _Step(
                    "comment",
                    f"comment:{_id(comment)}",
                    card_key,
                    "POST",
                    "/cards/{}/comments",
                    _pick(comment, "encBody"),
                    ("comment", card_key),
                    "encBody",
                )
            )
        for attachment in _list(card, "attachments"):
            attachment_id, size = _id(attachment), attachment.get("size")
            if type(size) is not int or size < 0:
                raise ProtocolError(f"attachment {attachment_id}: no valid size")
            member = self.backup.manifest.member(attachment_member(attachment_id))
            if member is None or member.size != ciphertext_size(size):
                raise ProtocolError(
                    f"{self.backup.path}: attachment {attachment_id} is missing from the backup or not of the size "
                    "its metadata requires (run `msk backup verify`)"
                )
            meta = _pick(attachment, "encName", "encMime", "encFileKey", "size")
            want(
                _Step(
                    "attachment",
                    f"attachment:{attachment_id}",
                    card_key,
                    "POST",
                    "/cards/{}/attachments",
                    meta,
                    ("attachment", card_key),
                    "encName",
                    attachment_id,
                    size,
                )
            )
        if written_by:
            text = NOTE_HEADING + "\n" + "\n".join(written_by)
            board_id = board_key.removeprefix("board:")
            want(_Step("note", f"note:{card_key}", card_key, "POST", "/cards/{}/comments", (board_id, text),
                       ("comment", card_key), "encBody"))  # fmt: skip
        if card.get("archived") is True:
            want(_Step("archive", f"archive:{card_key}", card_key, "PATCH", "/cards/{}", {"archived": True}))
        return len(written_by), dropped

    # --- running --------------------------------------------------------------------------------
    def run(self) -> RestoreSummary:
        """Settle each journal's unfinished creates, then send the plan's steps, paced."""
        started = self._clock()
        total = self.plan().mutations
        done = 0
        results = []
        self._progress(done, total)
        for entry in self._entries:
            ws_id = _id(entry, "workspace")
            journal = Journal.open(self._journals[ws_id], durable=self._durable)
            try:
                self._check_target(journal, f"workspace:{ws_id}")
                for key in list(journal.pending):
                    self._settle(journal, key, {})
                plan = self._plan(entry, journal)
                created: Counter[str] = Counter()
                for step in plan.steps:
                    self._execute(journal, step, ws_id)
                    created[step.kind] += 1
                    done += 1
                    self._progress(done, total)
                journal.compact()
            finally:
                journal.close()
            results.append((ws_id, journal.done[f"workspace:{ws_id}"], created, plan))
        return RestoreSummary(results, self._clock() - started, self.client.requests)

    def _progress(self, done: int, total: int) -> None:
        if self._on_progress is not None:
            self._on_progress(done, max(total, done))

    def _stage(self, stage: str, key: str) -> None:
        if self._on_stage is not None:
            self._on_stage(stage, key)

    def _check_target(self, journal: Journal, ws_key: str) -> None:
        """An earlier run's workspace must still exist: never recreate it silently."""
        ws_id = journal.done.get(ws_key)
        if ws_id is None:
            return
        try:
            self.client.run(_one(Request("GET", f"/workspaces/{_valid(ws_id)}")))
        except NotFoundError:
            raise UsageError(
                f"the workspace an earlier restore created ({ws_id}) is gone; pass --as-new to restore another copy"
            ) from None

    def _digests(self, kind: str, parent_id: str) -> dict[str, str]:
        """Envelope digest -> id of what is listed below a parent (nothing decrypted)."""
        if kind == "workspace":
            me = Obj(loads(self.client.run(_one(Request("GET", "/me"))).body, "/me"), "me")
            rows = me.children("memberships", "membership")
            return {envelope_digest(m.text("encWorkspaceKey")): m.id("workspaceId") for m in rows}
        if kind == "cardTemplate":
            answer: Response = self.client.run(_one(Request("GET", f"/boards/{_valid(parent_id)}/card-templates")))
            rows = [Obj(row, "cardTemplate") for row in _rows(loads(answer.body, "card templates"))]
            return {envelope_digest(row.text("encTitle")): row.id() for row in rows}
        return self.client.sealed_digests(kind, parent_id)

    def _settle(self, journal: Journal, key: str, listings: dict[tuple[str, str], dict[str, str]]) -> None:
        for intent in journal.pending.get(key, []):
            where = (intent.kind, intent.parent)
            if where not in listings:
                listings[where] = self._digests(intent.kind, intent.parent)
            entity_id = listings[where].get(intent.digest)
            if entity_id is not None:
                journal.record(key, entity_id)
                return
        journal.drop(key)

    def _execute(self, journal: Journal, step: _Step, ws_id: str) -> None:
        """One step; a dropped connection or a 5xx is settled against the server and retried."""
        for attempt in range(1, _STEP_ATTEMPTS + 1):
            try:
                if step.key in journal.pending:
                    self._settle(journal, step.key, {})
                if step.key not in journal.done:
                    delay = self._pacer.reserve("mutation")
                    if delay > 0:
                        self._sleep(delay)
                    self._perform(journal, step, ws_id)
                return
            except (TransportError, ApiError) as exc:
                if (isinstance(exc, ApiError) and exc.status < 500) or attempt == _STEP_ATTEMPTS:
                    raise
                self._sleep(min(30.0, 2.0 ** (attempt - 1)))

    def _perform(self, journal: Journal, step: _Step, ws_id: str) -> None:
        """Send one step with the new ids filled in; write its envelope's digest ahead."""
        route = step.route.format(_valid(journal.done[step.parent])) if step.parent else step.route
        body = _resolve(step.body, journal.done)
        if (wait := self._order.wait(step.kind, route)) > 0:
            self._sleep(wait)
        if step.kind == "workspace":
            body["encWorkspaceKey"] = str(seal_workspace_key(self._keys[ws_id], self.public_key))
        elif step.kind == "note":
            board_id, text = step.body
            body = {
                "encBody": str(
                    encrypt_field(self._board_keys[board_id], text.encode(), field_spec("comment", "encBody"))
                )
            }
        kind, listed_key = step.listed
        if step.ident:
            listed_under = journal.done[listed_key] if listed_key else ""
            journal.intend(step.key, kind, listed_under, envelope_digest(body[step.ident]), "")
            self._stage("sealed", step.key)
        if step.kind == "attachment":
            response = self._upload(route, body, step.attachment)
        else:
            response = self.client.run(_one(Request(step.method, route, json=body)))
        entity_id = ""
        if step.ident:
            created = Obj(loads(response.body, step.route), step.kind)
            entity_id = created.id()
            if step.kind == "attachment" and created.integer("size") != step.size:
                raise ProtocolError(f"attachment {entity_id}: the server recorded another size than {step.size}")
        self._order.answered(step.kind, route)
        self._stage("created", step.key)
        journal.record(step.key, entity_id)
        self._stage("recorded", step.key)

    def _upload(self, route: str, meta: Mapping[str, Any], attachment_id: str) -> Response:
        """The backup's ciphertext as it is, streamed from the archive into the upload."""
        with self.backup.open_attachment(attachment_id) as stream:
            files = {
                "meta": (None, json.dumps(dict(meta)), "application/json"),
                "file": (
                    "blob",
                    _Stream(stream, f"{self.backup.path}: member {attachment_member(attachment_id)}"),
                    "application/octet-stream",
                ),
            }
            return self.client.run(_one(Request("POST", route, files=files)))


class _Stream:
    """A member stream for httpx's multipart body: read() only, a CRC failure named."""

    def __init__(self, stream: Any, where: str) -> None:
        self._stream, self._where = stream, where

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._stream.read(size)
        except zipfile.BadZipFile as exc:
            raise ProtocolError(f"{self._where} is damaged: {exc}") from None
        return data


def _resolve(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, _Ref):
        return _valid(ids[value.key])
    if isinstance(value, dict):
        return {_resolve(k, ids): _resolve(v, ids) for k, v in value.items()}
    return value


def _valid(value: object) -> str:
    if not is_valid_id(value):
        raise ProtocolError(f"the backup's document holds an invalid id: {str(value)[:40]!r}")
    return str(value)


def _id(obj: Mapping[str, Any], member: str | None = None) -> str:
    """The id of `obj` (or of its `member` object; for a reference like columnId, that value)."""
    if member is None:
        return _valid(obj.get("id"))
    value = obj.get(member)
    return _valid(value.get("id") if isinstance(value, dict) else value)


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f"the backup's document: {name} is not a string")
    return value


def _number(obj: Mapping[str, Any], name: str) -> float:
    value = obj.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _list(obj: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = obj.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ProtocolError(f"the backup's document: {name} is not an array of objects")
    return value


def _rows(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError("expected a JSON array")
    return value


def _pick(obj: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The members of `obj` a create sends, as the backup holds them (absent and null left out)."""
    return {name: obj[name] for name in names if obj.get(name) is not None}
