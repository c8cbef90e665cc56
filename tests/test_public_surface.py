"""Pins the public surface: a change to what users import is a deliberate edit here.

Everything else lives in private `_modules`; each public module lists its names in `__all__`.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import mskclient

PUBLIC = {'mskclient': ['ActivityEvent', 'ApiError', 'AsyncClient', 'Attachment', 'AuthError', 'Automation', 'Board',
               'Card', 'CardTemplate', 'Checklist', 'ChecklistItem', 'Client', 'Column', 'Comment', 'ConflictError',
               'CredentialsError', 'CryptoError', 'CustomField', 'DecryptionError', 'Delivery', 'EditConflictError',
               'EnvelopeError', 'ForbiddenError', 'Health', 'KdfParametersError', 'KeyTrustError', 'Label', 'Me',
               'Member', 'Membership', 'Milestone', 'MskError', 'NotFoundError', 'Notification', 'OverLimitError',
               'Pacer', 'PayloadTooLargeError', 'ProtocolError', 'RateLimitError', 'RecoveryKeyError', 'Registration',
               'TotpEnrollment', 'TransportError', 'TrustStore', 'UNSET', 'Undecryptable', 'UnsupportedVersionError',
               'UsageError', 'User', 'UserLookup', 'Webhook', 'Workspace', 'WsTicket', '__version__', 'harden_process'],
 'mskclient.crypto': ['AccountKeys', 'BoardKey', 'CIPHER_CHUNK_SIZE', 'Envelope', 'FileKey', 'KeyPair', 'LoginKeys',
                      'MasterKey', 'NewAccount', 'RELAY_FRAME_OVERHEAD', 'RecoveryKey', 'SealedEnvelope',
                      'StreamDecryptor', 'StreamEncryptor', 'SymmetricKey', 'UserKey', 'WebhookSignatureError',
                      'Where', 'WorkspaceKey', 'b64u_decode', 'b64u_encode', 'check_login_init', 'ciphertext_size',
                      'create_account', 'decrypt_field', 'decrypt_file', 'derivation_cost', 'derivation_seconds',
                      'derive_login_keys', 'encrypt_field', 'encrypt_file', 'encrypted_chunks', 'fingerprint',
                      'fingerprint_matches', 'format_recovery_key', 'normalize_email', 'normalize_password',
                      'open_file_key', 'open_relay_frame', 'open_workspace_key', 'parse_recovery_key',
                      'rewrap_user_key', 'seal_field', 'seal_relay_frame', 'seal_workspace_key', 'sign_webhook',
                      'unlock_account', 'unlock_with_recovery', 'unwrap_board_key', 'verify_webhook_signature',
                      'wrap_board_key', 'wrap_file_key'],
 'mskclient.crypto.hazmat': ['SECRETSTREAM_HEADERBYTES', 'argon2id_hash_raw', 'crypto_box_seal',
                             'crypto_box_seal_open', 'crypto_generichash', 'decrypt_batch', 'encrypt_batch',
                             'encrypt_with_ad', 'open_sealed', 'seal_to', 'uses_native'],
 'mskclient.sandbox': ['Clock', 'ManualClock', 'Sandbox', 'SandboxConfig', 'SystemClock', 'create_app',
                       'reset_database', 'serve'],
 'mskclient.live': ['AsyncCardClient', 'Awareness', 'AwarenessChange', 'AwarenessEntry', 'AwarenessMessage',
                    'BoardNames', 'CardClient', 'Channel', 'ConnectionChanged', 'LiveEvent', 'Message', 'Participant',
                    'PresenceChanged', 'QueryAwareness', 'ReadOnlyFrame', 'SseParser', 'SyncStep1', 'SyncStep2',
                    'SyncUpdate', 'TextChanged', 'Tick', 'WebSocketChannel', 'aedit_description', 'close_error',
                    'decode_awareness_update', 'decode_message', 'describe', 'edit_description',
                    'encode_awareness_update', 'encode_message', 'open_board', 'open_card', 'presence_for',
                    'relay_connector', 'user_color', 'user_name', 'watch', 'ws_url'],
 'mskclient.export': ['BoardEntry', 'CheckedBoard', 'ExportAttachment', 'ExportBoard', 'ExportCard', 'ExportCheck',
                      'ExportChecker', 'ExportChecklist', 'ExportChecklistItem', 'ExportColumn', 'ExportComment',
                      'ExportDecryptor', 'ExportParser',
                      'ExportResult', 'ExportSink', 'FORMATS', 'Fetch', 'FieldFailure', 'Level', 'OnlineExport',
                      'STRATEGIES', 'UNDECRYPTABLE', 'aexport_online', 'atomic_open', 'atomic_write_text',
                      'attachment_fetch', 'board_to_json', 'ciphertext_fetch', 'decrypt_board', 'decrypt_document',
                      'decrypt_export_file', 'existing_outputs', 'export_online', 'export_to_json',
                      'keys_from_password', 'list_boards', 'members_by_id', 'name_matches', 'render', 'resolve',
                      'safe_name', 'save_attachments', 'write_export'],
 'mskclient.backup': ['Backup', 'BackupSummary', 'BoardReport', 'CLOCK_FAIL', 'CLOCK_WARN', 'Check', 'EXPORT_MEMBER',
                      'FORMAT_NAME', 'FORMAT_VERSION', 'MANIFEST_MEMBER', 'Manifest', 'ManifestMember', 'Problem',
                      'Progress', 'RESTORE_KINDS', 'RekeyPlan', 'RekeyResult', 'Rekeyer', 'RestorePlan',
                      'RestoreSummary', 'Restorer', 'VerifyReport', 'WorkspacePlan', 'WorkspaceSource',
                      'attachment_member', 'create_backup', 'diagnose', 'open_backup', 'save_account_export',
                      'target_public_key', 'verify_backup', 'workspace_snapshot'],
 'mskclient.webhooks': ['HEADER_DELIVERY', 'HEADER_EVENT', 'HEADER_SIGNATURE', 'Receiver', 'ReplayError',
                        'WebhookDelivery', 'WebhookSignatureError', 'verify'],
 'mskclient.pytest_plugin': ['msk_sandbox', 'msk_sandbox_config'],
 'mskclient.cli': ['main'],
 'mskclient.importers': ['BoardPlan', 'BoardRef', 'BoardResult', 'CodecksSource', 'DeckSource', 'Importer', 'Journal',
                         'KINDS', 'KaitenSource', 'Plan', 'Source', 'SourceAttachment', 'SourceBoard', 'SourceCard',
                         'SourceChecklist', 'SourceChecklistItem', 'SourceColumn', 'SourceComment', 'SourceField',
                         'SourceLabel', 'SourceMilestone', 'SourceRule', 'SourceTemplate', 'SourceUser',
                         'SourceWebhook', 'Stage', 'Summary', 'comment_text', 'count_by_kind', 'deck_base_url',
                         'estimate_seconds', 'journal_path', 'kaiten_base_url', 'notes_text',
                         'split_tasks', 'tag_color', 'webhook_digest'],
 'mskclient.client': ['AsyncClient', 'Client', 'Core', 'DeadlineTransport', 'DescriptionEdit', 'Flow',
                      'REQUEST_HEADERS', 'Registration', 'Request', 'Response', 'SealedHook', 'Streamed', 'UNSET',
                      'envelope_digest', 'primed']}


@pytest.mark.parametrize("module", PUBLIC)
def test_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == PUBLIC[module]
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is listed in __all__ but missing"


def test_every_other_module_is_private() -> None:
    """A module outside PUBLIC is private: its own name or a parent's starts with an underscore."""
    for info in pkgutil.walk_packages(mskclient.__path__, "mskclient."):
        if info.name in PUBLIC:
            continue
        parts = info.name.split(".")[1:]
        assert any(part.startswith("_") for part in parts), f"{info.name} is public but not pinned"


def test_private_modules_declare_all() -> None:
    for info in pkgutil.walk_packages(mskclient.__path__, "mskclient."):
        if info.name in {"mskclient._native", "mskclient._version"} or info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        assert isinstance(getattr(mod, "__all__", None), list | tuple), f"{info.name} lacks __all__"
