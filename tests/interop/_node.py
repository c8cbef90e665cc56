"""Run the JavaScript side of the interop tests (Node) with JSON over stdin/stdout.

No skips: without node or tests/interop/node_modules the tests fail and say
how to fix it (`scripts/test` runs `npm ci` here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

__all__ = ["INTEROP", "node_executable", "run_node"]

INTEROP = Path(__file__).resolve().parent
TIMEOUT_SECONDS = 180


def _missing_packages() -> list[str]:
    manifest = json.loads((INTEROP / "package.json").read_text(encoding="utf-8"))
    return [name for name in manifest["dependencies"] if not (INTEROP / "node_modules" / name).is_dir()]


def node_executable() -> str:
    """The node binary, after checking the npm packages are installed (the test fails otherwise)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the JavaScript interop tests need Node.js 18 or later")
    missing = _missing_packages()
    if missing:
        pytest.fail(f"tests/interop/node_modules lacks {', '.join(missing)}: run `npm ci` in tests/interop")
    return node


def run_node(script: str, request: object = None) -> tuple[int, dict[str, Any]]:
    """Run tests/interop/<script> under node; returns its exit code and the JSON it printed."""
    node = node_executable()
    try:
        proc = subprocess.run(
            [node, str(INTEROP / script)],
            input=json.dumps(request).encode("utf-8"),
            capture_output=True,
            cwd=INTEROP,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"node {script} did not finish within {TIMEOUT_SECONDS} s")
    try:
        answer = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"node {script} exited {proc.returncode} without a JSON answer:\n{proc.stderr.decode()[-2000:]}")
    assert isinstance(answer, dict)
    return proc.returncode, answer
