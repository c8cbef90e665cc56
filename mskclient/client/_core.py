"""The one implementation of every client operation, as sans-I/O flows.

Each public method of `Core` is a generator that yields `Request`s and
receives `Response`s (as httpx drives its auth flows); `Client` and
`AsyncClient` run the same generators with a sync or an async driver.  Core
holds the client's state: session cookie, account keys, and the lazily
unwrapped workspace and board keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

from .. import _description
from .._atomic import atomic_replace
from .._errors import (
    CredentialsError,
    DecryptionError,
    EditConflictError,
    EnvelopeError,
    KeyTrustError,
    MskError,
    OverLimitError,
    ProtocolError,
    UsageError,
)
from .._json import Obj, fail, read_array
from .._models import (
    ActivityEvent,
    Attachment,
    Automation,
    Board,
    Card,
    CardTemplate,
    Checklist,
    ChecklistItem,
    Column,
    Comment,
    CustomField,
    Delivery,
    Health,
    Label,
    Me,
    Member,
    Membership,
    Milestone,
    Notification,
    TotpEnrollment,
    Undecryptable,
    User,
    UserLookup,
    Webhook,
    Workspace,
    WsTicket,
)
from .._profile import (
    ANSWER_MAX_ATTACHMENT,
    ANSWER_MAX_LIST,
    API_PREFIX,
    ATTACHMENT_MAX_CIPHERTEXT,
    DEFAULT_LABEL_COLOR,
    EXPORT_DEADLINE_SECONDS,
    PASSWORD_MIN_CHARS,
    PASSWORD_MIN_SCORE,
    SESSION_COOKIE,
    KdfParams,
    is_valid_delivery_id,
    is_valid_id,
)
from .._trust import TrustStore
from ..crypto import (
    AccountKeys,
    BoardKey,
    FileKey,
    LoginKeys,
    MasterKey,
    RecoveryKey,
    SealedEnvelope,
    SymmetricKey,
    Where,
    WorkspaceKey,
    b64u_decode,
    b64u_encode,
    check_login_init,
    ciphertext_size,
    create_account,
    derivation_cost,
    derivation_seconds,
    derive_login_keys,
    fingerprint,
    fingerprint_matches,
    format_recovery_key,
    normalize_email,
    open_file_key,
    open_workspace_key,
    parse_recovery_key,
    rewrap_user_key,
    seal_workspace_key,
    unlock_account,
    unlock_with_recovery,
    unwrap_board_key,
    wrap_board_key,
    wrap_file_key,
)
from ..crypto.hazmat import open_sealed
from ._crypt import DecryptingSink, EncryptingReader, open_bytes, open_text, seal_bytes, seal_text
from ._wire import Flow, Request, Response, error_from, has_error_shape, path, read_object

__all__ = ["UNSET", "Core", "DescriptionEdit", "Registration", "SealedHook", "envelope_digest"]

#: Characters of a new password whose strength zxcvbn estimates (its maximum).
_STRENGTH_PREFIX: Final = 72
#: Attempts of a safe edit (read, merge, PATCH with If-Match) before giving up on 409s.
_EDIT_ATTEMPTS: Final = 5
#: sealed envelopes remembered for their echo at most (a flow seals a handful before its answer)
_SEALED_ECHOES: Final = 64
#: card descriptions remembered for an unchanged envelope in a later answer (a bulk writer
#: edits a card a round of creates after it created it)
_DESCRIPTIONS_KNOWN: Final = 256
_MiB: Final = 1024 * 1024


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: Marks "leave unchanged" where None is a meaningful value (e.g. clearing a due date).
UNSET: Final = _Unset()

#: Called with `envelope_digest()` of a new entity's identifying envelope just before its create
#: request is sent.  Envelopes carry a random nonce and the server stores them unchanged, so the
#: digest names this one creation: a caller that journals it (write-ahead) can find the entity
#: with `sealed_digests()` after a crash between the server's answer and its own bookkeeping.
SealedHook = Callable[[str], None]

#: Kind of entity -> (list route below its parent, identifying envelope field) for `sealed_digests`.
_SEALED_LISTS: Final[dict[str, tuple[str, str]]] = {
    "board": ("/workspaces/{}/boards", "encTitle"),
    "column": ("/boards/{}/columns", "encTitle"),
    "card": ("/boards/{}/cards", "encTitle"),
    "label": ("/boards/{}/labels", "encName"),
    "customField": ("/boards/{}/custom-fields", "encName"),
    "checklist": ("/cards/{}/checklists", "encTitle"),
    "attachment": ("/cards/{}/attachments", "encName"),
    "cardTemplate": ("/boards/{}/card-templates", "encTitle"),
    "automation": ("/boards/{}/automations", "encName"),
}


def envelope_digest(envelope: str) -> str:
    """SHA-256 (hex) of an envelope string exactly as sent: an id for one creation, no plaintext."""
    return hashlib.sha256(envelope.encode("ascii")).hexdigest()


def _same_key(remembered: SymmetricKey, key: SymmetricKey) -> bool:
    """Whether a memo's key is `key` (mostly the cached key object itself, checked first)."""
    return remembered is key or remembered == key


def _announce(hook: SealedHook | None, envelope: str) -> None:
    if hook is not None:
        hook(envelope_digest(envelope))


@dataclass(frozen=True, slots=True)
class Registration:
    """A new account.  `recovery_key` must be shown to the user once and never stored."""

    user: User
    recovery_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DescriptionEdit:
    """A description edit as stored, and what sharing it with the card's live room takes.

    Sending it into the room is a WebSocket's work, `mskclient.live`'s: the flow only
    gathers the one-shot ticket and the board key the relay frame is sealed with.
    """

    card: Card
    #: the Yjs update the edit made; None when the transform changed nothing (nothing saved)
    update: bytes | None = field(default=None, repr=False)
    #: a ticket for the room `card:<id>`, when asked for and granted
    ticket: WsTicket | None = field(default=None, repr=False)
    key: BoardKey | None = field(default=None, repr=False)


def _get(route: str, *ids: str, params: Mapping[str, str] | None = None) -> Request:
    return Request("GET", path(route, *ids), params=params)


def _get_list(route: str, *ids: str, params: Mapping[str, str] | None = None) -> Request:
    """A read answered with many entities: a list route, or a card with its children."""
    return Request("GET", path(route, *ids), params=params, max_bytes=ANSWER_MAX_LIST)


def _send(method: str, route: str, *ids: str, body: Any = None) -> Request:
    return Request(method, path(route, *ids), json=body)


def _login_init(email: str) -> Request:
    """login-init: the answer (salt, KDF parameters) feeds Argon2id, hence `cpu_after`.

    Its error answers come back to the flow (a 429 is still retried by the driver): login-init
    is the first request to a server, and the one that tells whether the URL is MSKanban's.
    """
    refused = frozenset(range(400, 600)) - {429}
    return Request("POST", "/auth/login-init", json={"email": email}, cpu_after=True, ok=refused)


def _check_mskanban(answer: Response, server: str | None) -> None:
    """Refuse a login-init answer no MSKanban server gives: its route missing (404), a body that
    is not JSON, an error without MSKanban's error shape, a success without salt and KDF."""
    where = server or "this URL"
    if answer.status == 404:
        if server is not None and server.endswith(API_PREFIX):
            raise UsageError(
                f"no MSKanban login at {server}{API_PREFIX}: give the server URL without the trailing"
                f" {API_PREFIX} (the client adds it): {server.removesuffix(API_PREFIX)}"
            )
        raise UsageError(f"{where} does not look like an MSKanban server (its login route is missing)")
    try:
        data = answer.json()
    except ProtocolError:
        raise UsageError(f"{where} does not look like an MSKanban server (it answered something not JSON)") from None
    if answer.status >= 400:
        if not has_error_shape(answer):
            raise UsageError(f"{where} does not look like an MSKanban server (an error answer of a foreign shape)")
        raise error_from(answer)
    if not isinstance(data, Mapping) or "salt" not in data or "kdf" not in data:
        raise UsageError(f"{where} does not look like an MSKanban server (its login answer lacks salt and KDF)")


def _user(obj: Obj) -> User:
    return User(
        id=obj.id(),
        email=obj.text("email"),
        display_name=obj.opt_text("displayName"),
        public_key=_public_key(obj, "publicKey"),
        totp_enabled=obj.flag("totpEnabled", False),
    )


def _public_key(obj: Obj, name: str) -> bytes:
    try:
        key = b64u_decode(obj.text(name))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise fail(obj.entity, name, "not a 32-byte public key")
    return key


def _stamp(obj: Obj, name: str) -> str:
    value = obj.data.get(name)
    return value if isinstance(value, str) else ""


class Core:
    """Client state and the flows; drivers call `Core.<op>(core, ...)` and run the generator."""

    def __init__(
        self,
        *,
        token: str | None = None,
        email: str | None = None,
        trust: TrustStore | None = None,
        on_slow_kdf: Callable[[KdfParams, float], None] | None = None,
        server: str | None = None,
    ) -> None:
        #: Value of the `msk_session` cookie, sent on every request while set.
        self.token = token
        #: The server's URL (the drivers add API_PREFIX to it), for messages that name it.
        self.server = server
        #: Told (parameters, estimated seconds) before deriving with costlier parameters than the default.
        self.on_slow_kdf = on_slow_kdf
        self.email = normalize_email(email) if email else None
        self.user: User | None = None
        self.trust = trust if trust is not None else TrustStore()
        self._keys: AccountKeys | None = None
        self._sealed_wk: dict[str, str] = {}
        #: text envelopes sealed here whose answer has not come back: an answer that echoes one
        #: needs no decryption (the same string under the same key and field is the same text)
        self._sealed_here: dict[tuple[str, str, str], tuple[SymmetricKey, str]] = {}
        #: card id -> the description envelope last read or sent, the key it is under, its Yjs
        #: state and text: an answer that holds the same envelope (a card edited in other
        #: fields, or read again) needs neither decryption nor decoding
        self._descriptions: dict[str, tuple[str, SymmetricKey, bytes, str]] = {}
        self._wk: dict[str, WorkspaceKey] = {}
        self._bk: dict[str, BoardKey] = {}
        #: entity id -> board id, learnt from every read, so updates of children find their key.
        self._board_of: dict[str, str] = {}
        #: Strict reads (False, the default) raise on the first field that does not decrypt.
        #: Lenient reads put an `Undecryptable` placeholder in its place, list it in
        #: `undecryptable`, and go on: one member's tampered comment or title then hides only
        #: itself (what `msk` does, with a warning per field and a non-zero exit code).
        self.lenient_reads = False
        #: The placeholders lenient reads handed out, oldest first (the caller reports them).
        self.undecryptable: list[Undecryptable] = []

    # --- state ------------------------------------------------------------------------------
    @property
    def keys(self) -> AccountKeys:
        if self._keys is None:
            raise UsageError("this client has no account keys: log in with the password or unlock first")
        return self._keys

    @property
    def has_keys(self) -> bool:
        return self._keys is not None

    def use_keys(self, keys: AccountKeys) -> None:
        """Use already unlocked account keys (e.g. from `msk unlock`)."""
        self._keys = keys
        self._drop_key_caches()

    def _forget(self) -> None:
        self.token = None
        self.user = None
        self._keys = None
        self._drop_key_caches()

    def _drop_key_caches(self) -> None:
        """Forget the workspace and board keys opened (and sealed ones seen) under the old account keys."""
        self._wk.clear()
        self._bk.clear()
        self._sealed_wk.clear()
        self._descriptions.clear()

    def _placeholder(self, error: DecryptionError | EnvelopeError) -> Undecryptable:
        marker = Undecryptable(error)
        self.undecryptable.append(marker)
        return marker

    def _seal_text(self, key: SymmetricKey, entity: str, name: str, plaintext: str) -> str:
        envelope = seal_text(key, entity, name, plaintext)
        if len(self._sealed_here) >= _SEALED_ECHOES:  # answers that never echoed theirs (a 204, an error)
            self._sealed_here.clear()
        self._sealed_here[entity, name, envelope] = (key, plaintext)
        return envelope

    def _open_text(self, key: BoardKey | WorkspaceKey, obj: Obj, name: str, entity_id: str) -> str:
        """A decrypted text field; in a lenient read, a placeholder if it does not decrypt."""
        envelope = obj.data.get(name)
        if isinstance(envelope, str) and self._sealed_here:
            sealed = self._sealed_here.pop((obj.entity, name, envelope), None)
            if sealed is not None and _same_key(sealed[0], key):
                return sealed[1]
        try:
            return open_text(key, obj, name, entity_id)
        except (DecryptionError, EnvelopeError) as exc:
            if not self.lenient_reads:
                raise
            return self._placeholder(exc)

    def _remember(self, entity_id: str, board_id: str) -> None:
        self._board_of[entity_id] = board_id

    def _board_for(self, entity_id: str, board_id: str | None, what: str) -> str:
        found = board_id or self._board_of.get(entity_id)
        if found is None:
            raise UsageError(f"which board is {what} {entity_id} on? pass board_id=")
        return found

    # --- authentication ---------------------------------------------------------------------
    def _prelogin(self, email: str, password: str) -> Flow[LoginKeys]:
        """login-init, refuse weak or absurd KDF parameters, then Argon2id (~0.1 s of CPU)."""
        answer = yield _login_init(email)
        _check_mskanban(answer, self.server)
        salt, params = check_login_init(answer.json())
        return self._derive(password, salt, params)

    def _derive(self, password: str, salt: bytes, params: KdfParams) -> LoginKeys:
        """Argon2id, announced first through `on_slow_kdf` when the server asks for more than the default."""
        if self.on_slow_kdf is not None and derivation_cost(params) > 1:
            self.on_slow_kdf(params, derivation_seconds(params))
        return derive_login_keys(password, salt, params)

    def _after_login(self, response: Response, master: MasterKey | None) -> User:
        token = _session_cookie(response)
        if token is None:
            raise ProtocolError("login answered without a session cookie")
        self.token = token
        user_obj = read_object(response, "login").child("user", "user")
        user = _user(user_obj)
        if master is not None:
            self.use_keys(unlock_account(master, user_obj.data))
        self.user, self.email = user, user.email
        return user

    def register(self, email: str, password: str) -> Flow[Registration]:
        """Create an account (login-init salt → KDF → new keys), then log in with it."""
        email = normalize_email(email)
        _check_new_password(password, email)
        login = yield from self._prelogin(email, password)
        account = create_account(login.master_key)
        yield _send("POST", "/auth/register", body={"email": email, "authHash": login.auth_hash, **account.fields})
        response = yield _send("POST", "/auth/login", body={"email": email, "authHash": login.auth_hash})
        user = self._after_login(response, None)
        self.use_keys(account.keys)
        return Registration(user, format_recovery_key(account.recovery_key))

    def login(self, email: str, password: str, totp: str | None = None) -> Flow[User]:
        """login-init → check KDF parameters → Argon2id → login [+ TOTP] → unlock the keys."""
        email = normalize_email(email)
        login = yield from self._prelogin(email, password)
        body: dict[str, str] = {"email": email, "authHash": login.auth_hash}
        if totp is not None:
            body["totp"] = totp
        response = yield _send("POST", "/auth/login", body=body)
        return self._after_login(response, login.master_key)

    def unlock(self, password: str) -> Flow[User]:
        """Derive the keys from the password for an existing session (no new login)."""
        if self.email is None:
            raise UsageError("unlock needs the account's email")
        login = yield from self._prelogin(self.email, password)
        me = yield _get("/me")
        user_obj = read_object(me, "me").child("user", "user")
        self.use_keys(_open_with_password(login.master_key, user_obj.data))
        self.user = _user(user_obj)
        return self.user

    def logout(self) -> Flow[None]:
        """End the session on the server and drop every key this client holds."""
        yield _send("POST", "/auth/logout")
        self._forget()

    def recover(self, email: str, recovery_key: str | RecoveryKey, new_password: str) -> Flow[None]:
        """Set a new password with the recovery key (the old password is lost)."""
        email = normalize_email(email)
        _check_new_password(new_password, email)
        rk = parse_recovery_key(recovery_key) if isinstance(recovery_key, str) else recovery_key
        step1 = read_object((yield _send("POST", "/auth/recovery", body={"email": email})), "recovery")
        keys = unlock_with_recovery(rk, step1.data)
        challenge = open_sealed(_sealed_challenge(step1), keys.keypair, Where("recovery", "sealedChallenge"))
        # The new password gets step 1's fresh salt; the cost parameters are the server's (login-init),
        # checked against the profile's floor and cap like any login.
        answer = yield _login_init(email)
        _check_mskanban(answer, self.server)
        init = read_object(answer, "init")
        salt, params = check_login_init({"salt": step1.text("salt"), "kdf": init.data.get("kdf")})
        login = self._derive(new_password, salt, params)
        yield _send(
            "POST",
            "/auth/recovery",
            body={
                "email": email,
                "challengeId": step1.text("challengeId"),
                "challenge": b64u_encode(challenge),
                "authHash": login.auth_hash,
                "encSymmetricKey": str(rewrap_user_key(login.master_key, keys.user_key)),
            },
        )

    def totp_enroll(self) -> Flow[TotpEnrollment]:
        obj = read_object((yield _send("POST", "/auth/2fa/enroll")), "totp")
        return TotpEnrollment(obj.text("secret"), obj.text("otpauthUrl"))

    def totp_verify(self, code: str) -> Flow[None]:
        yield _send("POST", "/auth/2fa/verify", body={"totp": code})

    def totp_disable(self, code: str) -> Flow[None]:
        yield _send("POST", "/auth/2fa/disable", body={"totp": code})

    def ws_ticket(self, room: str) -> Flow[WsTicket]:
        kind, _, room_id = room.partition(":")
        if kind not in ("card", "board") or not is_valid_id(room_id):
            raise UsageError(f"not a relay room: {room!r}")
        obj = read_object((yield _send("POST", "/auth/ws-ticket", body={"room": room})), "ticket")
        return WsTicket(obj.text("ticket"), obj.text("expiresAt"))

    def get_json(self, route: str, *ids: str, params: Mapping[str, str] | None = None) -> Flow[Any]:
        """The parsed JSON of `GET /api<route>` (ids fill its `{}` slots, checked), bounded like a list.

        For callers that read the server's own shapes, such as the export's ciphertext reads.
        """
        return (yield _get_list(route, *ids, params=params)).json()

    def health(self) -> Flow[Health]:
        obj = read_object((yield _get("/health")), "health")
        return Health(obj.flag("ok"), str(obj.raw("db")), str(obj.raw("redis")))

    # --- me ---------------------------------------------------------------------------------
    def me(self) -> Flow[Me]:
        obj = read_object((yield _get("/me")), "me")
        user = _user(obj.child("user", "user"))
        memberships = []
        for m in obj.children("memberships", "membership"):
            ws = m.id("workspaceId")
            memberships.append(Membership(ws, m.text("role")))
            if isinstance(m.data.get("encWorkspaceKey"), str):
                self._sealed_wk[ws] = m.text("encWorkspaceKey")
        self.user = user
        return Me(user, tuple(memberships))

    def export_me(self) -> Flow[Any]:
        """The server's `/me/export` (ciphertext + metadata) as parsed JSON, bounded like a list answer.

        `stream_export` hands it over as it downloads instead, with no bound on the whole.
        """
        return (yield _get_list("/me/export")).json()

    def stream_export(self, sink: Callable[[bytes], None]) -> Flow[None]:
        """The server's `/me/export` fed to `sink` chunk by chunk as it downloads.

        No bound on the whole (the sink bounds what it keeps), an export's deadline.
        """
        yield Request("GET", "/me/export", sink=sink, max_bytes=None, deadline=EXPORT_DEADLINE_SECONDS)

    def notifications(self) -> Flow[list[Notification]]:
        rows = read_array((yield _get_list("/me/notifications")).json(), "notification")
        return [
            Notification(
                id=o.id(),
                kind=str(o.data.get("kind") or o.data.get("type") or ""),
                card_id=o.opt_id("cardId"),
                board_id=o.opt_id("boardId"),
                read=bool(o.data.get("read", False)),
                created_at=_stamp(o, "createdAt"),
                data={k: v for k, v in o.data.items() if k not in ("id", "kind", "type")},
            )
            for o in rows
        ]

    def delete_account(self) -> Flow[None]:
        """DELETE /me: the server shreds the key material at once."""
        yield _send("DELETE", "/me")
        self._forget()

    # --- keys -------------------------------------------------------------------------------
    def workspace_key(self, workspace_id: str) -> Flow[WorkspaceKey]:
        """The workspace key, opened from this account's membership (cached)."""
        if workspace_id not in self._wk:
            path("/{}", workspace_id)
            if workspace_id not in self._sealed_wk:
                yield from self.me()
            sealed = self._sealed_wk.get(workspace_id)
            if sealed is None:
                raise UsageError(f"this account is not a member of workspace {workspace_id}")
            self._wk[workspace_id] = open_workspace_key(sealed, self.keys.keypair, workspace_id)
        return self._wk[workspace_id]

    def board_key(self, board_id: str) -> Flow[BoardKey]:
        """The board key (WK from the membership → BK from the board), cached per client."""
        if board_id not in self._bk:
            obj = read_object((yield _get("/boards/{}", board_id)), "board")
            yield from self._board_key_of(obj)
        return self._bk[board_id]

    def _board_key_of(self, obj: Obj) -> Flow[BoardKey]:
        board_id = obj.id()
        if board_id not in self._bk:
            wk = yield from self.workspace_key(obj.id("workspaceId"))
            self._bk[board_id] = unwrap_board_key(wk, obj.raw("encBoardKey"), board_id)
        return self._bk[board_id]

    # --- workspaces and members ---------------------------------------------------------------
    def _workspace(self, obj: Obj) -> Flow[Workspace]:
        ws_id = obj.id()
        wk = yield from self.workspace_key(ws_id)
        return Workspace(
            ws_id,
            self._open_text(wk, obj, "encName", ws_id),
            obj.id("ownerId"),
            _stamp(obj, "createdAt"),
            _stamp(obj, "updatedAt"),
        )

    def workspaces(self) -> Flow[list[Workspace]]:
        rows = read_array((yield _get_list("/workspaces")).json(), "workspace")
        found = []
        for o in rows:
            found.append((yield from self._workspace(o)))
        return found

    def workspace(self, workspace_id: str) -> Flow[Workspace]:
        return (yield from self._workspace(read_object((yield _get("/workspaces/{}", workspace_id)), "workspace")))

    def create_workspace(self, name: str, *, on_sealed: SealedHook | None = None) -> Flow[Workspace]:
        """A fresh workspace key, sealed to our own public key; we become the owner."""
        wk = WorkspaceKey.generate()
        body = {
            "encName": self._seal_text(wk, "workspace", "encName", name),
            "encWorkspaceKey": str(seal_workspace_key(wk, self.keys.keypair.public)),
        }
        _announce(on_sealed, body["encName"])
        obj = read_object((yield _send("POST", "/workspaces", body=body)), "workspace")
        self._wk[obj.id()] = wk
        return (yield from self._workspace(obj))

    def rename_workspace(self, workspace_id: str, name: str) -> Flow[Workspace]:
        wk = yield from self.workspace_key(workspace_id)
        body = {"encName": self._seal_text(wk, "workspace", "encName", name)}
        return (
            yield from self._workspace(
                read_object((yield _send("PATCH", "/workspaces/{}", workspace_id, body=body)), "workspace")
            )
        )

    def delete_workspace(self, workspace_id: str) -> Flow[None]:
        yield _send("DELETE", "/workspaces/{}", workspace_id)
        self._wk.pop(workspace_id, None)

    def _member(self, obj: Obj) -> Member:
        user_id, email = obj.id("userId"), obj.text("email")
        key = _public_key(obj, "publicKey")
        return Member(user_id, email, obj.opt_text("displayName"), obj.text("role"), key, fingerprint(key))

    def members(self, workspace_id: str) -> Flow[list[Member]]:
        """Members with the fingerprints of the keys the server sent (pinned on first use).

        A member whose key differs from the pinned one is still listed (so the
        user sees it); `key_trusted()` tells, and sealing to them is blocked.
        """
        rows = read_array((yield _get_list("/workspaces/{}/members", workspace_id)).json(), "member")
        members = [self._member(o) for o in rows]
        self.trust.pin_new((m.user_id, m.email, m.public_key) for m in members)
        return members

    def key_trusted(self, member: Member | UserLookup) -> bool:
        """False if this member's key differs from the pinned one."""
        user_id = member.user_id if isinstance(member, Member) else member.id
        return self.trust.matches(user_id, member.public_key)

    def key_state(self, member: Member | UserLookup) -> str:
        """The state of this member's key against the pins: "verified", "first seen" or "changed"."""
        user_id = member.user_id if isinstance(member, Member) else member.id
        return self.trust.state(user_id, member.public_key)

    def verify_member(self, user: UserLookup) -> None:
        """Mark `user`'s key (as `lookup_user` returned it) verified: its fingerprint was
        compared with them out of band."""
        self.trust.verify(user.id, user.email, user.public_key)

    def lookup_user(self, email: str) -> Flow[UserLookup]:
        obj = read_object((yield _get("/users/lookup", params={"email": normalize_email(email)})), "user")
        key = _public_key(obj, "publicKey")
        return UserLookup(obj.id(), obj.text("email"), key, fingerprint(key))

    def invite(
        self, workspace_id: str, email: str, role: str = "member", *, expected_fingerprint: str | None = None
    ) -> Flow[Member]:
        """Seal the workspace key to the invitee's (pinned) public key and add them.

        With `expected_fingerprint` (what the invitee read out to you) nothing is sealed or
        sent unless the looked-up key has it; the key is then pinned as verified.  The
        answer must name the key sealed to: the member returned is that key, never another
        one the server puts in its answer."""
        wk = yield from self.workspace_key(workspace_id)
        user = yield from self.lookup_user(email)
        if expected_fingerprint is None:
            self.trust.require(user.id, user.email, user.public_key)
        elif fingerprint_matches(user.public_key, expected_fingerprint):
            self.trust.verify(user.id, user.email, user.public_key)
        else:
            raise KeyTrustError(
                f"the server gives {user.email} the key {user.fingerprint}, not the fingerprint they read out "
                "to you: nothing was sealed or sent"
            )
        body = {"userId": user.id, "role": role, "encWorkspaceKey": str(seal_workspace_key(wk, user.public_key))}
        obj = read_object((yield _send("POST", "/workspaces/{}/members", workspace_id, body=body)), "member")
        member = self._member(obj)
        if member.user_id != user.id or member.public_key != user.public_key:
            raise ProtocolError(
                f"the invite answer names another key than the one the workspace key was sealed to "
                f"({user.fingerprint}, from the lookup): remove {user.email} and verify their fingerprint with them"
            )
        return member

    def trust_member(self, email: str) -> Flow[UserLookup]:
        """Accept the key the server now shows for `email` (after checking the fingerprint with them)."""
        user = yield from self.lookup_user(email)
        self.trust.trust(user.id, user.email, user.public_key)
        return user

    def remove_member(self, workspace_id: str, user_id: str) -> Flow[None]:
        yield _send("DELETE", "/workspaces/{}/members/{}", workspace_id, user_id)

    def set_role(self, workspace_id: str, user_id: str, role: str) -> Flow[Member]:
        obj = read_object(
            (yield _send("PATCH", "/workspaces/{}/members/{}", workspace_id, user_id, body={"role": role})), "member"
        )
        return self._member(obj)

    # --- boards -----------------------------------------------------------------------------
    def _board(self, obj: Obj) -> Flow[Board]:
        board_id = obj.id()
        try:
            bk = yield from self._board_key_of(obj)
        except (DecryptionError, EnvelopeError) as exc:
            if not self.lenient_reads:
                raise
            # without its key nothing of the board opens: its title stands for the whole of it
            return Board(
                board_id,
                obj.id("workspaceId"),
                self._placeholder(exc),
                "",
                obj.flag("archived", False),
                _stamp(obj, "createdAt"),
                _stamp(obj, "updatedAt"),
            )
        description = ""
        if obj.data.get("encDescription") is not None:
            description = self._open_text(bk, obj, "encDescription", board_id)
        return Board(
            board_id,
            obj.id("workspaceId"),
            self._open_text(bk, obj, "encTitle", board_id),
            description,
            obj.flag("archived", False),
            _stamp(obj, "createdAt"),
            _stamp(obj, "updatedAt"),
        )

    def boards(self, workspace_id: str) -> Flow[list[Board]]:
        rows = read_array((yield _get_list("/workspaces/{}/boards", workspace_id)).json(), "board")
        found = []
        for o in rows:
            found.append((yield from self._board(o)))
        return found

    def board(self, board_id: str) -> Flow[Board]:
        return (yield from self._board(read_object((yield _get("/boards/{}", board_id)), "board")))

    def create_board(
        self, workspace_id: str, title: str, description: str = "", *, on_sealed: SealedHook | None = None
    ) -> Flow[Board]:
        wk = yield from self.workspace_key(workspace_id)
        bk = BoardKey.generate()
        body = {"encTitle": self._seal_text(bk, "board", "encTitle", title), "encBoardKey": str(wrap_board_key(wk, bk))}
        if description:
            body["encDescription"] = self._seal_text(bk, "board", "encDescription", description)
        _announce(on_sealed, body["encTitle"])
        obj = read_object((yield _send("POST", "/workspaces/{}/boards", workspace_id, body=body)), "board")
        return (yield from self._board(obj))

    def update_board(
        self, board_id: str, *, title: str | None = None, description: str | None = None, archived: bool | None = None
    ) -> Flow[Board]:
        bk = yield from self.board_key(board_id)
        body: dict[str, Any] = {}
        if title is not None:
            body["encTitle"] = self._seal_text(bk, "board", "encTitle", title)
        if description is not None:
            body["encDescription"] = self._seal_text(bk, "board", "encDescription", description)
        if archived is not None:
            body["archived"] = archived
        return (yield from self._board(read_object((yield _send("PATCH", "/boards/{}", board_id, body=body)), "board")))

    def delete_board(self, board_id: str) -> Flow[None]:
        yield _send("DELETE", "/boards/{}", board_id)
        self._bk.pop(board_id, None)

    # --- columns ----------------------------------------------------------------------------
    def _column(self, obj: Obj, bk: BoardKey) -> Column:
        cid, board_id = obj.id(), obj.id("boardId")
        self._remember(cid, board_id)
        return Column(
            cid,
            board_id,
            self._open_text(bk, obj, "encTitle", cid),
            obj.number("position", 0.0),
            obj.opt_integer("wipLimit"),
            _stamp(obj, "createdAt"),
            _stamp(obj, "updatedAt"),
        )

    def columns(self, board_id: str) -> Flow[list[Column]]:
        bk = yield from self.board_key(board_id)
        rows = read_array((yield _get_list("/boards/{}/columns", board_id)).json(), "column")
        return _by_position([self._column(o, bk) for o in rows])

    def create_column(
        self,
        board_id: str,
        title: str,
        *,
        position: float | None = None,
        wip_limit: int | None = None,
        on_sealed: SealedHook | None = None,
    ) -> Flow[Column]:
        bk = yield from self.board_key(board_id)
        body: dict[str, Any] = {"encTitle": self._seal_text(bk, "column", "encTitle", title)}
        _announce(on_sealed, body["encTitle"])
        if position is not None:
            body["position"] = position
        if wip_limit is not None:
            body["wipLimit"] = wip_limit
        return self._column(read_object((yield _send("POST", "/boards/{}/columns", board_id, body=body)), "column"), bk)

    def update_column(
        self,
        column_id: str,
        *,
        title: str | None = None,
        position: float | None = None,
        wip_limit: int | _Unset | None = UNSET,
        board_id: str | None = None,
    ) -> Flow[Column]:
        bk = yield from self.board_key(self._board_for(column_id, board_id, "column"))
        body: dict[str, Any] = {}
        if title is not None:
            body["encTitle"] = self._seal_text(bk, "column", "encTitle", title)
        if position is not None:
            body["position"] = position
        if not isinstance(wip_limit, _Unset):
            body["wipLimit"] = wip_limit
        return self._column(read_object((yield _send("PATCH", "/columns/{}", column_id, body=body)), "column"), bk)

    def delete_column(self, column_id: str) -> Flow[None]:
        yield _send("DELETE", "/columns/{}", column_id)

    # --- cards ------------------------------------------------------------------------------
    def _card(self, obj: Obj, bk: BoardKey, written: tuple[str, bytes, str] | None = None) -> Card:
        """The card of an answer; `written` is the description this client just sent (envelope,
        Yjs state, text), which an answer holding that very envelope needs not open again."""
        card_id, board_id = obj.id(), obj.id("boardId")
        self._remember(card_id, board_id)
        state = _description.empty_state()
        text: str | Undecryptable = ""
        envelope = obj.data.get("encDescription")
        known = self._descriptions.get(card_id) if written is None else (written[0], bk, written[1], written[2])
        if envelope is not None and known is not None and known[0] == envelope and _same_key(known[1], bk):
            _, _, state, text = known
        elif envelope is not None:
            try:
                state = open_bytes(bk, obj, "encDescription", card_id)
                text = _description.text_of(state)
            except (DecryptionError, EnvelopeError) as exc:
                if not self.lenient_reads:
                    raise
                text = self._placeholder(exc)
            except Exception as exc:  # pycrdt raises bare exceptions on a bad update
                raise ProtocolError(f"card {card_id}: encDescription is not a Yjs state ({exc})") from None
        if isinstance(envelope, str) and isinstance(text, str):
            if len(self._descriptions) >= _DESCRIPTIONS_KNOWN:
                del self._descriptions[next(iter(self._descriptions))]
            self._descriptions[card_id] = (envelope, bk, state, text)
        custom: dict[str, str] = {}
        for field_id, envelope in obj.mapping("customFields").items():
            if not is_valid_id(field_id):
                raise ProtocolError(f"card {card_id}: customFields key is not a valid id")
            value = Obj({"customFields": envelope}, "card")
            custom[field_id] = self._open_text(bk, value, "customFields", card_id)
        comments = checklists = attachments = None
        if "comments" in obj.data:
            comments = tuple(
                sorted(
                    (self._comment(c, bk) for c in obj.children("comments", "comment")),
                    key=lambda c: (c.created_at, c.id),
                )
            )
        if "checklists" in obj.data:
            checklists = tuple(_by_position([self._checklist(c, bk) for c in obj.children("checklists", "checklist")]))
        if "attachments" in obj.data:
            attachments = tuple(self._attachment(a, bk) for a in obj.children("attachments", "attachment"))
        return Card(
            id=card_id,
            board_id=board_id,
            column_id=obj.id("columnId"),
            position=obj.number("position", 0.0),
            title=self._open_text(bk, obj, "encTitle", card_id),
            description=text,
            description_state=state,
            due_at=obj.opt_text("dueAt"),
            milestone_id=obj.opt_id("milestoneId"),
            label_ids=obj.ids("labelIds"),
            assignee_ids=obj.ids("assigneeIds"),
            custom_fields=custom,
            archived=obj.flag("archived", False),
            version=obj.integer("version", 0),
            comment_count=obj.integer("commentCount", 0),
            checklist_count=obj.integer("checklistCount", 0),
            attachment_count=obj.integer("attachmentCount", 0),
            created_at=_stamp(obj, "createdAt"),
            updated_at=_stamp(obj, "updatedAt"),
            comments=comments,
            checklists=checklists,
            attachments=attachments,
        )

    def _card_in(self, obj: Obj) -> Flow[Card]:
        bk = yield from self.board_key(obj.id("boardId"))
        return self._card(obj, bk)

    def cards(self, board_id: str) -> Flow[list[Card]]:
        bk = yield from self.board_key(board_id)
        rows = read_array((yield _get_list("/boards/{}/cards", board_id)).json(), "card")
        return _by_position([self._card(o, bk) for o in rows])

    def card(self, card_id: str) -> Flow[Card]:
        """One card with its comments, checklists and attachments."""
        return (yield from self._card_in(read_object((yield _get_list("/cards/{}", card_id)), "card")))

    def create_card(
        self,
        column_id: str,
        title: str,
        description: str = "",
        *,
        due_at: str | None = None,
        position: float | None = None,
        board_id: str | None = None,
        on_sealed: SealedHook | None = None,
    ) -> Flow[Card]:
        bk = yield from self.board_key(self._board_for(column_id, board_id, "column"))
        body: dict[str, Any] = {"encTitle": self._seal_text(bk, "card", "encTitle", title)}
        _announce(on_sealed, body["encTitle"])
        written = None
        if description:
            state = _description.edit_to(_description.empty_state(), description)
            body["encDescription"] = seal_bytes(bk, "card", "encDescription", state)
            written = (body["encDescription"], state, description)
        if due_at is not None:
            body["dueAt"] = due_at
        if position is not None:
            body["position"] = position
        answer = read_object((yield _send("POST", "/columns/{}/cards", column_id, body=body)), "card")
        return self._card(answer, bk, written)

    def edit_card(
        self,
        card_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        description_state: bytes | None = None,
        due_at: str | _Unset | None = UNSET,
        archived: bool | None = None,
        custom_fields: Mapping[str, str | None] | None = None,
        base: Card | None = None,
    ) -> Flow[Card]:
        """A safe edit: PATCH with If-Match; on 409 re-read, merge and retry.

        `base` is the card as the caller read it (else it is read now).  On a
        conflict the description is merged through Yjs (both edits kept); a
        title the server changed differently since `base` raises EditConflictError
        rather than being overwritten.  `description_state` replaces the Yjs
        state with a merge of it and the server's (for live editors).
        """
        if base is None:
            base = yield from self.card(card_id)
        bk = yield from self.board_key(base.board_id)
        if (description is not None or description_state is not None) and isinstance(base.description, Undecryptable):
            raise base.description.error  # editing it would replace the real text with ours alone
        ours: bytes | None = None
        if description is not None:
            ours = _description.edit_to(base.description_state, description)
        if description_state is not None:
            ours = _description.merge(ours or base.description_state, description_state)
        current = base
        for _ in range(_EDIT_ATTEMPTS):
            if title is not None and current.title != base.title and current.title != title:
                raise EditConflictError(f"card {card_id}: the title was changed by someone else (not overwritten)")
            body: dict[str, Any] = {}
            if title is not None:
                body["encTitle"] = self._seal_text(bk, "card", "encTitle", title)
            if ours is not None:
                if isinstance(current.description, Undecryptable):
                    raise current.description.error
                merged = ours if current is base else _description.merge(current.description_state, ours)
                body["encDescription"] = seal_bytes(bk, "card", "encDescription", merged)
            if not isinstance(due_at, _Unset):
                body["dueAt"] = due_at
            if archived is not None:
                body["archived"] = archived
            if custom_fields is not None:
                values = dict(current.custom_fields)
                for field_id, value in custom_fields.items():
                    path("/{}", field_id)
                    if value is None:
                        values.pop(field_id, None)
                    else:
                        values[field_id] = value
                body["customFields"] = {k: self._seal_text(bk, "card", "customFields", v) for k, v in values.items()}
            request = Request(
                "PATCH",
                path("/cards/{}", card_id),
                json=body,
                headers={"If-Match": f'"{current.version}"'},
                ok=frozenset({409}),
            )
            response = yield request
            if response.status != 409:
                written = None
                if ours is not None and current is base and description is not None and description_state is None:
                    written = (body["encDescription"], ours, description)  # a merge's text is not known
                return self._card(read_object(response, "card"), bk, written)
            current = yield from self.card(card_id)
        raise EditConflictError(f"card {card_id}: still conflicting after {_EDIT_ATTEMPTS} attempts")

    def edit_description(
        self, card_id: str, transform: Callable[[str], str], *, base: Card | None = None, live: bool = True
    ) -> Flow[DescriptionEdit]:
        """Apply `transform` to a card's description as the smallest Yjs edit and save it.

        `base` is the card as the caller already read it (else it is read now).  The save is a
        safe edit (If-Match; on 409 re-read, merge and retry).  With `live`, also take a relay
        ticket and the board key for sharing the update with the card's room; that part is best
        effort: the edit is stored already, and live peers merge the stored document when they save.
        """
        if base is None:
            base = yield from self.card(card_id)
        new_text = transform(base.description)
        if not isinstance(new_text, str):
            raise UsageError("the description transform must return text")
        if new_text == base.description:
            return DescriptionEdit(base)
        update = _description.diff_update(base.description_state, new_text)
        card = yield from self.edit_card(card_id, description_state=update, base=base)
        if not live:
            return DescriptionEdit(card, update)
        try:
            ticket = yield from self.ws_ticket(f"card:{card_id}")
            key = yield from self.board_key(card.board_id)
        except MskError:
            return DescriptionEdit(card, update)  # peers that miss the update get it from the next load or save
        return DescriptionEdit(card, update, ticket, key)

    def set_custom_field_value(self, card_id: str, field_id: str, value: str | None) -> Flow[Card]:
        """Set (or clear with None) one custom field's value on a card, encrypted under the board key."""
        return (yield from self.edit_card(card_id, custom_fields={field_id: value}))

    def archive_card(self, card_id: str, archived: bool = True) -> Flow[Card]:
        return (yield from self.edit_card(card_id, archived=archived))

    def move_card(
        self, card_id: str, to_column_id: str, *, before_card_id: str | None = None, after_card_id: str | None = None
    ) -> Flow[Card]:
        body: dict[str, Any] = {"toColumnId": path("{}", to_column_id)}
        if before_card_id is not None:
            body["beforeCardId"] = path("{}", before_card_id)
        if after_card_id is not None:
            body["afterCardId"] = path("{}", after_card_id)
        obj = read_object((yield _send("PATCH", "/cards/{}/move", card_id, body=body)), "card")
        return (yield from self._card_in(obj))

    def delete_card(self, card_id: str) -> Flow[None]:
        yield _send("DELETE", "/cards/{}", card_id)

    def add_label(self, card_id: str, label_id: str) -> Flow[None]:
        yield _send("POST", "/cards/{}/labels", card_id, body={"labelId": path("{}", label_id)})

    def remove_label(self, card_id: str, label_id: str) -> Flow[None]:
        yield _send("DELETE", "/cards/{}/labels", card_id, body={"labelId": path("{}", label_id)})

    def assign(self, card_id: str, user_id: str) -> Flow[None]:
        yield _send("POST", "/cards/{}/assignments", card_id, body={"userId": path("{}", user_id)})

    def unassign(self, card_id: str, user_id: str) -> Flow[None]:
        yield _send("DELETE", "/cards/{}/assignments/{}", card_id, user_id)

    def set_milestone(self, card_id: str, milestone_id: str | None) -> Flow[None]:
        value = None if milestone_id is None else path("{}", milestone_id)
        yield _send("PUT", "/cards/{}/milestone", card_id, body={"milestoneId": value})

    # --- comments ---------------------------------------------------------------------------
    def _comment(self, obj: Obj, bk: BoardKey) -> Comment:
        cid = obj.id()
        return Comment(
            cid,
            obj.id("cardId"),
            obj.id("authorId"),
            self._open_text(bk, obj, "encBody", cid),
            _stamp(obj, "createdAt"),
            _stamp(obj, "updatedAt"),
        )

    def _card_board(self, card_id: str) -> Flow[tuple[str, BoardKey]]:
        board_id = self._board_of.get(card_id)
        if board_id is None:
            board_id = (yield from self.card(card_id)).board_id
        bk = yield from self.board_key(board_id)
        return board_id, bk

    def add_comment(self, card_id: str, body: str, *, on_sealed: SealedHook | None = None) -> Flow[Comment]:
        board_id, bk = yield from self._card_board(card_id)
        payload = {"encBody": self._seal_text(bk, "comment", "encBody", body)}
        _announce(on_sealed, payload["encBody"])
        comment = self._comment(
            read_object((yield _send("POST", "/cards/{}/comments", card_id, body=payload)), "comment"), bk
        )
        self._remember(comment.id, board_id)
        return comment

    def edit_comment(self, comment_id: str, body: str, *, board_id: str | None = None) -> Flow[Comment]:
        bk = yield from self.board_key(self._board_for(comment_id, board_id, "comment"))
        payload = {"encBody": self._seal_text(bk, "comment", "encBody", body)}
        return self._comment(
            read_object((yield _send("PATCH", "/comments/{}", comment_id, body=payload)), "comment"), bk
        )

    def delete_comment(self, comment_id: str) -> Flow[None]:
        yield _send("DELETE", "/comments/{}", comment_id)

    # --- checklists -------------------------------------------------------------------------
    def _item(self, obj: Obj, bk: BoardKey) -> ChecklistItem:
        iid = obj.id()
        return ChecklistItem(
            iid,
            obj.id("checklistId"),
            self._open_text(bk, obj, "encText", iid),
            obj.flag("done", False),
            obj.number("position", 0.0),
        )

    def _checklist(self, obj: Obj, bk: BoardKey) -> Checklist:
        cid = obj.id()
        card_id = obj.id("cardId")
        items = [self._item(i, bk) for i in obj.children("items", "checklistItem", True)]
        board_id = self._board_of.get(card_id)
        if board_id is not None:
            self._remember(cid, board_id)
            for item in items:
                self._remember(item.id, board_id)
        title = self._open_text(bk, obj, "encTitle", cid)
        return Checklist(cid, card_id, title, obj.number("position", 0.0), tuple(_by_position(items)))

    def checklists(self, card_id: str) -> Flow[list[Checklist]]:
        _, bk = yield from self._card_board(card_id)
        rows = read_array((yield _get_list("/cards/{}/checklists", card_id)).json(), "checklist")
        return _by_position([self._checklist(o, bk) for o in rows])

    def add_checklist(self, card_id: str, title: str, *, on_sealed: SealedHook | None = None) -> Flow[Checklist]:
        _, bk = yield from self._card_board(card_id)
        body = {"encTitle": self._seal_text(bk, "checklist", "encTitle", title)}
        _announce(on_sealed, body["encTitle"])
        return self._checklist(
            read_object((yield _send("POST", "/cards/{}/checklists", card_id, body=body)), "checklist"), bk
        )

    def rename_checklist(self, checklist_id: str, title: str, *, board_id: str | None = None) -> Flow[Checklist]:
        bk = yield from self.board_key(self._board_for(checklist_id, board_id, "checklist"))
        body = {"encTitle": self._seal_text(bk, "checklist", "encTitle", title)}
        return self._checklist(
            read_object((yield _send("PATCH", "/checklists/{}", checklist_id, body=body)), "checklist"), bk
        )

    def delete_checklist(self, checklist_id: str) -> Flow[None]:
        yield _send("DELETE", "/checklists/{}", checklist_id)

    def add_item(
        self,
        checklist_id: str,
        text: str,
        *,
        done: bool = False,
        board_id: str | None = None,
        on_sealed: SealedHook | None = None,
    ) -> Flow[ChecklistItem]:
        board = self._board_for(checklist_id, board_id, "checklist")
        bk = yield from self.board_key(board)
        body: dict[str, Any] = {"encText": self._seal_text(bk, "checklistItem", "encText", text)}
        if done:
            body["done"] = True
        _announce(on_sealed, body["encText"])
        obj = read_object((yield _send("POST", "/checklists/{}/items", checklist_id, body=body)), "checklistItem")
        item = self._item(obj, bk)
        self._remember(item.id, board)
        return item

    def update_item(
        self, item_id: str, *, text: str | None = None, done: bool | None = None, board_id: str | None = None
    ) -> Flow[ChecklistItem]:
        body: dict[str, Any] = {}
        bk = yield from self.board_key(self._board_for(item_id, board_id, "checklist item"))
        if text is not None:
            body["encText"] = self._seal_text(bk, "checklistItem", "encText", text)
        if done is not None:
            body["done"] = done
        obj = read_object((yield _send("PATCH", "/checklist-items/{}", item_id, body=body)), "checklistItem")
        return self._item(obj, bk)

    def delete_item(self, item_id: str) -> Flow[None]:
        yield _send("DELETE", "/checklist-items/{}", item_id)

    # --- attachments ------------------------------------------------------------------------
    def _attachment(self, obj: Obj, bk: BoardKey) -> Attachment:
        aid = obj.id()
        return Attachment(
            aid,
            obj.id("cardId"),
            self._open_text(bk, obj, "encName", aid),
            self._open_text(bk, obj, "encMime", aid),
            obj.integer("size"),
            _stamp(obj, "createdAt"),
        )

    def attachments(self, card_id: str) -> Flow[list[Attachment]]:
        _, bk = yield from self._card_board(card_id)
        rows = read_array((yield _get_list("/cards/{}/attachments", card_id)).json(), "attachment")
        return [self._attachment(o, bk) for o in rows]

    def attachment(self, attachment_id: str, *, board_id: str | None = None) -> Flow[Attachment]:
        obj = read_object((yield _get("/attachments/{}", attachment_id)), "attachment")
        if board_id is None:
            board_id, bk = yield from self._card_board(obj.id("cardId"))
        else:
            bk = yield from self.board_key(board_id)
        return self._attachment(obj, bk)

    def upload_attachment(
        self,
        card_id: str,
        src: BinaryIO,
        name: str,
        mime: str = "application/octet-stream",
        *,
        size: int | None = None,
        on_sealed: SealedHook | None = None,
    ) -> Flow[Attachment]:
        """Encrypt `src` with a fresh file key while streaming it up (constant memory).

        The size goes into the metadata: it is measured on a seekable `src`; a stream that
        cannot seek (e.g. an HTTP download) needs `size=`, and a stream that ends at another
        size raises UsageError.
        """
        if size is None:
            size = _remaining_size(src)
        elif size >= 0:
            src = cast(BinaryIO, _Exactly(src, size, name))
        if size is None or size < 0:
            raise UsageError("upload_attachment needs a seekable file or size= (its size goes into the metadata)")
        if ciphertext_size(size) > ATTACHMENT_MAX_CIPHERTEXT:
            raise OverLimitError(
                f"{name} is {size / _MiB:.1f} MiB ({size} bytes): over the attachment limit of"
                f" {ATTACHMENT_MAX_CIPHERTEXT / _MiB:g} MiB once encrypted; nothing was sent"
            )
        board_id, bk = yield from self._card_board(card_id)
        fk = FileKey.generate()
        enc_name = self._seal_text(bk, "attachment", "encName", name)
        meta = {
            "encName": enc_name,
            "encMime": self._seal_text(bk, "attachment", "encMime", mime),
            "encFileKey": str(wrap_file_key(bk, fk)),
            "size": size,
        }
        _announce(on_sealed, enc_name)
        reader = EncryptingReader(fk, src)
        files = {
            "meta": (None, json.dumps(meta), "application/json"),
            "file": ("blob", reader, "application/octet-stream"),
        }
        response = yield Request("POST", path("/cards/{}/attachments", card_id), files=files)
        attachment = self._attachment(read_object(response, "attachment"), bk)
        if reader.size != size:
            raise UsageError(f"{name} changed while it was uploaded ({size} → {reader.size} bytes); upload it again")
        if attachment.size != size:
            raise ProtocolError(f"attachment {attachment.id}: server recorded {attachment.size} bytes, sent {size}")
        self._remember(attachment.id, board_id)
        return attachment

    def download_attachment(self, attachment_id: str, dst: BinaryIO) -> Flow[Attachment]:
        """Decrypt the content into `dst` chunk by chunk; only authenticated bytes are written.

        A truncated or tampered stream raises DecryptionError; `dst` may then
        hold a prefix, which is why `save_attachment` writes to a temp file.
        """
        meta_obj = read_object((yield _get("/attachments/{}", attachment_id)), "attachment")
        _, bk = yield from self._card_board(meta_obj.id("cardId"))
        meta = self._attachment(meta_obj, bk)
        fk = open_file_key(bk, meta_obj.raw("encFileKey"), attachment_id)
        written = yield from self.download_content(attachment_id, fk, dst)
        if written != meta.size:
            raise Where("attachment", "content", attachment_id).decryption_error(
                f"content holds {written} bytes, metadata says {meta.size}"
            )
        return meta

    def download_content(self, attachment_id: str, file_key: FileKey, dst: BinaryIO) -> Flow[int]:
        """Decrypt an attachment's content with a file key already opened into `dst`; the bytes written.

        Only authenticated bytes reach `dst` (see `download_attachment` for the metadata's checks).
        """
        sink = DecryptingSink(file_key, dst, attachment_id)
        yield Request(
            "GET", path("/attachments/{}/content", attachment_id), sink=sink.feed, max_bytes=ANSWER_MAX_ATTACHMENT
        )
        return sink.finish()

    def save_attachment(self, attachment_id: str, target: str | os.PathLike[str]) -> Flow[Attachment]:
        """Download and decrypt to `target` atomically (temp file + os.replace): never a partial file."""
        target_path = Path(target)
        try:
            with atomic_replace(target_path) as handle:
                meta = yield from self.download_attachment(attachment_id, handle)
        except OSError as exc:
            raise UsageError(f"cannot write {target_path}: {exc.strerror or exc}") from None
        return meta

    def delete_attachment(self, attachment_id: str) -> Flow[None]:
        yield _send("DELETE", "/attachments/{}", attachment_id)

    # --- labels, milestones, templates, custom fields, automations -------------------------------
    def _label(self, obj: Obj, bk: BoardKey) -> Label:
        lid = obj.id()
        label = Label(lid, obj.id("boardId"), self._open_text(bk, obj, "encName", lid), obj.opt_text("color"))
        self._remember(lid, label.board_id)
        return label

    def labels(self, board_id: str) -> Flow[list[Label]]:
        bk = yield from self.board_key(board_id)
        rows = read_array((yield _get_list("/boards/{}/labels", board_id)).json(), "label")
        return [self._label(o, bk) for o in rows]

    def create_label(
        self, board_id: str, name: str, color: str = DEFAULT_LABEL_COLOR, *, on_sealed: SealedHook | None = None
    ) -> Flow[Label]:
        bk = yield from self.board_key(board_id)
        body: dict[str, Any] = {"encName": self._seal_text(bk, "label", "encName", name), "color": color}
        _announce(on_sealed, body["encName"])
        return self._label(read_object((yield _send("POST", "/boards/{}/labels", board_id, body=body)), "label"), bk)

    def update_label(
        self, label_id: str, *, name: str | None = None, color: str | None = None, board_id: str | None = None
    ) -> Flow[Label]:
        bk = yield from self.board_key(self._board_for(label_id, board_id, "label"))
        body: dict[str, Any] = {}
        if name is not None:
            body["encName"] = self._seal_text(bk, "label", "encName", name)
        if color is not None:
            body["color"] = color
        return self._label(read_object((yield _send("PATCH", "/labels/{}", label_id, body=body)), "label"), bk)

    def delete_label(self, label_id: str) -> Flow[None]:
        yield _send("DELETE", "/labels/{}", label_id)

    def _milestone(self, obj: Obj, bk: BoardKey) -> Milestone:
        mid = obj.id()
        milestone = Milestone(
            mid,
            obj.id("boardId"),
            self._open_text(bk, obj, "encTitle", mid),
            obj.opt_text("dueAt"),
            obj.flag("archived", False),
        )
        self._remember(mid, milestone.board_id)
        return milestone

    def milestones(self, board_id: str, *, archived: bool = False) -> Flow[list[Milestone]]:
        bk = yield from self.board_key(board_id)
        params = {"archived": "1"} if archived else None
        rows = read_array((yield _get_list("/boards/{}/milestones", board_id, params=params)).json(), "milestone")
        return [self._milestone(o, bk) for o in rows]

    def create_milestone(
        self, board_id: str, title: str, due_at: str | None = None, *, on_sealed: SealedHook | None = None
    ) -> Flow[Milestone]:
        bk = yield from self.board_key(board_id)
        body: dict[str, Any] = {"encTitle": self._seal_text(bk, "milestone", "encTitle", title)}
        _announce(on_sealed, body["encTitle"])
        if due_at is not None:
            body["dueAt"] = due_at
        obj = read_object((yield _send("POST", "/boards/{}/milestones", board_id, body=body)), "milestone")
        return self._milestone(obj, bk)

    def update_milestone(
        self,
        milestone_id: str,
        *,
        title: str | None = None,
        due_at: str | _Unset | None = UNSET,
        archived: bool | None = None,
        board_id: str | None = None,
    ) -> Flow[Milestone]:
        bk = yield from self.board_key(self._board_for(milestone_id, board_id, "milestone"))
        body: dict[str, Any] = {}
        if title is not None:
            body["encTitle"] = self._seal_text(bk, "milestone", "encTitle", title)
        if not isinstance(due_at, _Unset):
            body["dueAt"] = due_at
        if archived is not None:
            body["archived"] = archived
        return self._milestone(
            read_object((yield _send("PATCH", "/milestones/{}", milestone_id, body=body)), "milestone"), bk
        )

    def delete_milestone(self, milestone_id: str) -> Flow[None]:
        yield _send("DELETE", "/milestones/{}", milestone_id)

    def _template(self, obj: Obj, bk: BoardKey) -> CardTemplate:
        tid = obj.id()
        return CardTemplate(
            tid, obj.id("boardId"), self._open_text(bk, obj, "encTitle", tid), self._open_text(bk, obj, "encBody", tid)
        )

    def card_templates(self, board_id: str) -> Flow[list[CardTemplate]]:
        bk = yield from self.board_key(board_id)
        rows = read_array((yield _get_list("/boards/{}/card-templates", board_id)).json(), "cardTemplate")
        return [self._template(o, bk) for o in rows]

    def create_card_template(
        self, board_id: str, title: str, body: str = "", *, on_sealed: SealedHook | None = None
    ) -> Flow[CardTemplate]:
        bk = yield from self.board_key(board_id)
        payload = {
            "encTitle": self._seal_text(bk, "cardTemplate", "encTitle", title),
            "encBody": self._seal_text(bk, "cardTemplate", "encBody", body),
        }
        _announce(on_sealed, payload["encTitle"])
        obj = read_object((yield _send("POST", "/boards/{}/card-templates", board_id, body=payload)), "cardTemplate")
        return self._template(obj, bk)

    def delete_card_template(self, template_id: str) -> Flow[None]:
        yield _send("DELETE", "/card-templates/{}", template_id)

    def _custom_field(self, obj: Obj, bk: BoardKey) -> CustomField:
        fid = obj.id()
        options: tuple[str, ...] = ()
        if obj.data.get("encOptions") is not None:
            opened = self._open_text(bk, obj, "encOptions", fid)
            try:
                decoded = [opened] if isinstance(opened, Undecryptable) else json.loads(opened)
            except ValueError:
                decoded = None
            if not isinstance(decoded, list) or not all(isinstance(o, str) for o in decoded):
                raise ProtocolError(f"customField {fid}: encOptions is not a JSON array of strings")
            options = tuple(decoded)
        name = self._open_text(bk, obj, "encName", fid)
        custom = CustomField(fid, obj.id("boardId"), name, obj.text("type"), options)
        self._remember(fid, custom.board_id)
        return custom

    def custom_fields(self, board_id: str) -> Flow[list[CustomField]]:
        bk = yield from self.board_key(board_id)
        rows = read_array((yield _get_list("/boards/{}/custom-fields", board_id)).json(), "customField")
        return [self._custom_field(o, bk) for o in rows]

    def create_custom_field(
        self,
        board_id: str,
        name: str,
        type: str = "text",
        options: Sequence[str] = (),
        *,
        on_sealed: SealedHook | None = None,
    ) -> Flow[CustomField]:
        bk = yield from self.board_key(board_id)
        body: dict[str, Any] = {"encName": self._seal_text(bk, "customField", "encName", name), "type": type}
        _announce(on_sealed, body["encName"])
        if options:
            body["encOptions"] = self._seal_text(bk, "customField", "encOptions", json.dumps(list(options)))
        obj = read_object((yield _send("POST", "/boards/{}/custom-fields", board_id, body=body)), "customField")
        return self._custom_field(obj, bk)

    def update_custom_field(
        self,
        field_id: str,
        *,
        name: str | None = None,
        options: Sequence[str] | None = None,
        board_id: str | None = None,
    ) -> Flow[CustomField]:
        bk = yield from self.board_key(self._board_for(field_id, board_id, "custom field"))
        body: dict[str, Any] = {}
        if name is not None:
            body["encName"] = self._seal_text(bk, "customField", "encName", name)
        if options is not None:
            body["encOptions"] = self._seal_text(bk, "customField", "encOptions", json.dumps(list(options)))
        obj = read_object((yield _send("PATCH", "/custom-fields/{}", field_id, body=body)), "customField")
        return self._custom_field(obj, bk)

    def delete_custom_field(self, field_id: str) -> Flow[None]:
        yield _send("DELETE", "/custom-fields/{}", field_id)

    def _automation(self, obj: Obj, bk: BoardKey) -> Automation:
        aid = obj.id()
        automation = Automation(
            aid,
            obj.id("boardId"),
            self._open_text(bk, obj, "encName", aid),
            obj.mapping("trigger"),
            obj.mapping("action"),
            obj.flag("enabled", True),
        )
        self._remember(aid, automation.board_id)
        return automation

    def automations(self, board_id: str) -> Flow[list[Automation]]:
        bk = yield from self.board_key(board_id)
        rows = read_array((yield _get_list("/boards/{}/automations", board_id)).json(), "automation")
        return [self._automation(o, bk) for o in rows]

    def create_automation(
        self,
        board_id: str,
        name: str,
        trigger: Mapping[str, Any],
        action: Mapping[str, Any],
        *,
        enabled: bool = True,
        on_sealed: SealedHook | None = None,
    ) -> Flow[Automation]:
        bk = yield from self.board_key(board_id)
        body: dict[str, Any] = {
            "encName": self._seal_text(bk, "automation", "encName", name),
            "trigger": dict(trigger),
            "action": dict(action),
            "enabled": enabled,
        }
        _announce(on_sealed, body["encName"])
        obj = read_object((yield _send("POST", "/boards/{}/automations", board_id, body=body)), "automation")
        return self._automation(obj, bk)

    def update_automation(
        self,
        automation_id: str,
        *,
        name: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
        board_id: str | None = None,
    ) -> Flow[Automation]:
        bk = yield from self.board_key(self._board_for(automation_id, board_id, "automation"))
        body: dict[str, Any] = {}
        if name is not None:
            body["encName"] = self._seal_text(bk, "automation", "encName", name)
        if trigger is not None:
            body["trigger"] = dict(trigger)
        if action is not None:
            body["action"] = dict(action)
        if enabled is not None:
            body["enabled"] = enabled
        obj = read_object((yield _send("PATCH", "/automations/{}", automation_id, body=body)), "automation")
        return self._automation(obj, bk)

    def delete_automation(self, automation_id: str) -> Flow[None]:
        yield _send("DELETE", "/automations/{}", automation_id)

    # --- recognising one's own creations ------------------------------------------------------
    def sealed_digests(self, kind: str, parent_id: str) -> Flow[dict[str, str]]:
        """`envelope_digest()` of each entity's identifying envelope -> its id, below one parent.

        Kinds and parents: workspace (none: the account's list); board (workspace); column, card,
        label, customField, milestone, cardTemplate and automation (board); comment, checklist,
        checklistItem and attachment (card).  Reads metadata only: nothing is
        decrypted, so the answer is the same whoever can read the parent.
        """
        if kind == "workspace":
            rows, field_name = read_array((yield _get_list("/workspaces")).json(), kind), "encName"
        elif kind == "comment":
            card = Obj((yield _get("/cards/{}", parent_id)).json(), "card")
            rows, field_name = card.children("comments", kind), "encBody"
        elif kind == "checklistItem":
            lists = read_array((yield _get("/cards/{}/checklists", parent_id)).json(), "checklist")
            rows, field_name = [item for c in lists for item in c.children("items", kind, True)], "encText"
        elif kind == "milestone":
            listed = (yield _get("/boards/{}/milestones", parent_id, params={"archived": "1"})).json()
            rows, field_name = read_array(listed, kind), "encTitle"
        elif kind in _SEALED_LISTS:
            route, field_name = _SEALED_LISTS[kind]
            rows = read_array((yield _get(route, parent_id)).json(), kind)
        else:
            raise UsageError(f"sealed_digests: unknown kind {kind!r}")
        return {envelope_digest(row.text(field_name)): row.id() for row in rows}

    # --- webhooks and activity ----------------------------------------------------------------
    @staticmethod
    def _webhook(obj: Obj) -> Webhook:
        events = obj.raw("events")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise fail("webhook", "events", "not an array of strings")
        return Webhook(
            obj.id(),
            obj.id("boardId"),
            obj.text("url"),
            tuple(events),
            obj.flag("active", True),
            obj.opt_text("secret"),
        )

    def webhooks(self, board_id: str) -> Flow[list[Webhook]]:
        rows = read_array((yield _get_list("/boards/{}/webhooks", board_id)).json(), "webhook")
        return [self._webhook(o) for o in rows]

    def create_webhook(self, board_id: str, url: str, events: Sequence[str]) -> Flow[Webhook]:
        """The answer carries the signing secret, which the server never shows again."""
        body = {"url": url, "events": list(events)}
        return self._webhook(read_object((yield _send("POST", "/boards/{}/webhooks", board_id, body=body)), "webhook"))

    def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        active: bool | None = None,
    ) -> Flow[Webhook]:
        body: dict[str, Any] = {}
        if url is not None:
            body["url"] = url
        if events is not None:
            body["events"] = list(events)
        if active is not None:
            body["active"] = active
        return self._webhook(read_object((yield _send("PATCH", "/webhooks/{}", webhook_id, body=body)), "webhook"))

    def delete_webhook(self, webhook_id: str) -> Flow[None]:
        yield _send("DELETE", "/webhooks/{}", webhook_id)

    def deliveries(self, webhook_id: str) -> Flow[list[Delivery]]:
        rows = read_array((yield _get_list("/webhooks/{}/deliveries", webhook_id)).json(), "delivery")
        return [_delivery(o) for o in rows]

    def requeue_delivery(self, delivery_id: str) -> Flow[Delivery]:
        """Deliver again now, with a fresh retry schedule (e.g. after the dead letter)."""
        if not is_valid_delivery_id(delivery_id):
            raise UsageError(f"not a delivery id: {delivery_id!r}")
        response = yield Request("POST", f"/webhooks/deliveries/{delivery_id}/requeue")
        return _delivery(read_object(response, "delivery"))

    def activity(self, board_id: str) -> Flow[list[ActivityEvent]]:
        rows = read_array((yield _get_list("/boards/{}/activity", board_id)).json(), "activity")
        return [
            ActivityEvent(
                id=str(o.raw("id")),
                verb=o.text("verb"),
                board_id=o.id("boardId"),
                card_id=o.opt_id("cardId"),
                actor_id=o.opt_id("actorId"),
                timestamp=o.text("timestamp"),
                metadata=o.mapping("metadata"),
            )
            for o in rows
        ]


def _check_new_password(password: str, email: str) -> None:
    """Refuse a new password an offline guess would find, before any request is sent.

    The server holds the salt and encSymmetricKey, so it can test guesses at the cost of one
    Argon2id each, with no rate limit: length and zxcvbn's estimate (which also knows the
    email, common passwords, names and keyboard patterns) keep that search out of reach.
    """
    if len(password) < PASSWORD_MIN_CHARS:
        raise UsageError(f"the password is too short: use at least {PASSWORD_MIN_CHARS} characters")
    from zxcvbn import zxcvbn  # imported here: its dictionaries take a noticeable time to load

    # zxcvbn refuses longer input (its run time grows fast with length); a prefix is at most as strong as the whole
    estimate = zxcvbn(password[:_STRENGTH_PREFIX], user_inputs=[email, *email.split("@")])
    if estimate["score"] < PASSWORD_MIN_SCORE:
        feedback = estimate["feedback"]
        reason = feedback["warning"] or " ".join(feedback["suggestions"]) or "it is easy to guess"
        raise UsageError(f"the password is too weak: {reason}")


def _open_with_password(master: MasterKey, user: Mapping[str, object]) -> AccountKeys:
    """The account keys from a password-derived masterKey, on a session the server did not re-check.

    Without a login the server never saw the authHash, so a mistyped password shows first as
    encSymmetricKey failing to open: that is reported as the wrong password (as a refused login
    would be), while any later failure (the private key, its public key) stays a DecryptionError.
    """
    try:
        return unlock_account(master, user)
    except DecryptionError as exc:
        if (exc.entity, exc.field) == ("user", "encSymmetricKey"):
            raise CredentialsError("wrong password (it does not open this account's keys)") from None
        raise


def _delivery(obj: Obj) -> Delivery:
    delivery_id = obj.text("id")
    if not is_valid_delivery_id(delivery_id):
        raise fail("delivery", "id", "not a ULID")
    return Delivery(
        id=delivery_id,
        webhook_id=obj.id("webhookId"),
        verb=obj.text("verb"),
        status=obj.text("status"),
        attempts=obj.integer("attempts", 0),
        last_status=obj.opt_integer("lastStatus"),
        last_error=obj.opt_text("lastError"),
        created_at=_stamp(obj, "createdAt"),
    )


def _sealed_challenge(step1: Obj) -> SealedEnvelope:
    """The recovery challenge: raw base64url crypto_box_seal output (or the same as a sealed envelope)."""
    text = step1.text("sealedChallenge")
    where = Where("recovery", "sealedChallenge")
    if text.startswith("v1."):
        return SealedEnvelope.parse(text, where)
    try:
        raw = b64u_decode(text)
    except ValueError:
        raise where.envelope_error("not base64url") from None
    if len(raw) < 48:
        raise where.envelope_error("too short for a sealed box")
    return SealedEnvelope(raw[:32], raw[32:])


def _session_cookie(response: Response) -> str | None:
    return response.cookies.get(SESSION_COOKIE)


def _by_position(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda x: (x.position, getattr(x, "created_at", ""), x.id))


class _Exactly:
    """`size` bytes of a stream, for an upload whose size was declared up front.

    A stream that ends sooner or runs longer raises while the request body is still
    being sent, so the server never stores a file that disagrees with its metadata.
    """

    def __init__(self, src: BinaryIO, size: int, name: str) -> None:
        self._src, self._left, self._size, self._name = src, size, size, name

    def read(self, n: int = -1) -> bytes:
        want = self._left if n < 0 else min(n, self._left)
        data = self._src.read(want) if want else b""
        if want and not data:
            raise UsageError(f"{self._name}: the stream ended {self._left} bytes before its declared size {self._size}")
        self._left -= len(data)
        if self._left == 0 and self._src.read(1):
            raise UsageError(f"{self._name}: the stream is longer than its declared size {self._size}")
        return data


def _remaining_size(src: BinaryIO) -> int | None:
    try:
        here = src.tell()
        end = src.seek(0, os.SEEK_END)
        src.seek(here)
    except (OSError, AttributeError, ValueError):
        return None
    return end - here
