"""A local MSKanban-compatible server that stores only metadata, ciphertext and verifiers.

`with Sandbox() as url:` runs one on a free port in a background thread;
`msk sandbox` (or `serve()`) runs one in the foreground; the `msk_sandbox` pytest fixture
gives tests a fresh one.  It stands apart: it may import the crypto core and the shared
`_profile`, `_errors` and `_json`, and no layer imports it except the CLI.
"""

from ._app import create_app
from ._config import Clock, ManualClock, SandboxConfig, SystemClock
from ._server import Sandbox, reset_database, serve

__all__ = ["Clock", "ManualClock", "Sandbox", "SandboxConfig", "SystemClock", "create_app", "reset_database", "serve"]
