"""Core dumps are off in `msk` (and its unlock agent) before any key is derived."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# The child raises its own core limit first (as a shell with `ulimit -c unlimited` would),
# runs `msk`'s console entry, then reports what the kernel says about itself.
_PROBE = """
import ctypes, json, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
from mskclient.cli import main
sys.argv = ["msk", "--version"]
try:
    main()
except SystemExit:
    pass
limits = [line for line in open("/proc/self/limits") if line.startswith("Max core file size")]
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "after": resource.getrlimit(resource.RLIMIT_CORE),
    "limits": limits[0].split()[4:6],
    "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
    "coreDumping": status["CoreDumping"].strip(),
}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and prctl, Linux only")
def test_msk_disables_core_dumps_for_its_process() -> None:
    ran = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60)
    report = json.loads(ran.stdout.splitlines()[-1])
    assert report["after"] == [0, 0]  # soft and hard: the process cannot raise it again
    assert report["limits"] == ["0", "0"]
    assert report["dumpable"] == 0  # no core dump, no ptrace attach, no /proc/PID/mem for the same user
    assert report["coreDumping"] == "0"
