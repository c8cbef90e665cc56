"""mskclient: a zero-knowledge client for MSKanban, the end-to-end encrypted kanban server.

The errors are imported at once (they cost nothing); the client, the models and the rest are
imported on first use (PEP 562), so `import mskclient` and `msk --version` do not pay for
httpx, PyNaCl, pycrdt and rich, and the crypto core can load the native extension without
pulling in the layers above it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    ApiError,
    AuthError,
    ConflictError,
    CredentialsError,
    CryptoError,
    DecryptionError,
    EditConflictError,
    EnvelopeError,
    ForbiddenError,
    KdfParametersError,
    KeyTrustError,
    MskError,
    NotFoundError,
    OverLimitError,
    PayloadTooLargeError,
    ProtocolError,
    RateLimitError,
    RecoveryKeyError,
    TransportError,
    UnsupportedVersionError,
    UsageError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._harden import harden_process
    from ._models import (
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
    from ._pacing import Pacer
    from ._trust import TrustStore
    from .client import UNSET, AsyncClient, Client, Registration

__all__ = [
    "UNSET",
    "ActivityEvent",
    "AsyncClient",
    "Attachment",
    "Automation",
    "Board",
    "Card",
    "CardTemplate",
    "Checklist",
    "ChecklistItem",
    "Client",
    "Column",
    "Comment",
    "CustomField",
    "Delivery",
    "Health",
    "Label",
    "Me",
    "Member",
    "Membership",
    "Milestone",
    "Notification",
    "Pacer",
    "Registration",
    "TotpEnrollment",
    "TrustStore",
    "Undecryptable",
    "User",
    "UserLookup",
    "Webhook",
    "Workspace",
    "WsTicket",
    "ApiError",
    "AuthError",
    "ConflictError",
    "CredentialsError",
    "CryptoError",
    "DecryptionError",
    "EditConflictError",
    "EnvelopeError",
    "ForbiddenError",
    "KdfParametersError",
    "KeyTrustError",
    "MskError",
    "NotFoundError",
    "OverLimitError",
    "PayloadTooLargeError",
    "ProtocolError",
    "RateLimitError",
    "RecoveryKeyError",
    "TransportError",
    "UnsupportedVersionError",
    "UsageError",
    "__version__",
    "harden_process",
]

#: public name -> module it comes from, imported on first access
_LAZY: dict[str, str] = {
    "harden_process": "._harden",
    "ActivityEvent": "._models",
    "Attachment": "._models",
    "Automation": "._models",
    "Board": "._models",
    "Card": "._models",
    "CardTemplate": "._models",
    "Checklist": "._models",
    "ChecklistItem": "._models",
    "Column": "._models",
    "Comment": "._models",
    "CustomField": "._models",
    "Delivery": "._models",
    "Health": "._models",
    "Label": "._models",
    "Me": "._models",
    "Member": "._models",
    "Membership": "._models",
    "Milestone": "._models",
    "Notification": "._models",
    "TotpEnrollment": "._models",
    "Undecryptable": "._models",
    "User": "._models",
    "UserLookup": "._models",
    "Webhook": "._models",
    "Workspace": "._models",
    "WsTicket": "._models",
    "Pacer": "._pacing",
    "TrustStore": "._trust",
    "UNSET": ".client",
    "AsyncClient": ".client",
    "Client": ".client",
    "Registration": ".client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
