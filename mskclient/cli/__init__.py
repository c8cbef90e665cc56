"""The `msk` command: the top layer, turning each MskError into one line and an exit code.

It may import every layer's public API (client, export, live, importers, backup) and starts
the sandbox only through `mskclient.sandbox`'s public API (`msk sandbox`, `msk demo`).
Subcommand modules are imported only when their command runs, so start-up stays fast.
"""

from ._main import main

__all__ = ["main"]
