"""Run `msk` in-process exactly as the console script does (main(): exit codes, stderr)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

from click.testing import CliRunner

from mskclient.cli import main

#: `msk` as a process that a test stops with Ctrl-C (SIGINT).  A shell without job control
#: starts a background job with SIGINT ignored and every child inherits that (Python then
#: installs no KeyboardInterrupt at all), so the tests restore the default handler first.
MSK_INTERRUPTIBLE = [
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from mskclient.cli import main; main()",
]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def msk(*args: str, env: Mapping[str, str | None] | None = None, input: str | None = None) -> Ran:
    runner = CliRunner()
    saved = sys.argv
    with runner.isolation(input=input, env=dict(env or {})) as (out, err, _):
        sys.argv = ["msk", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved
        return Ran(code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8"))
