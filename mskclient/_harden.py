"""Keep key material out of core dumps, as ssh-agent and gpg-agent do.

A crash (or `gcore`, or a debugger of the same user) would otherwise write the
process memory, with the user, workspace and board keys in it, to disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

__all__ = ["harden_process"]

#: From <linux/prctl.h>: set (4) and get (3) the "dumpable" attribute.
_PR_SET_DUMPABLE = 4


def harden_process() -> None:
    """Disable core dumps for this process; call it before any key is derived.

    Sets the core size limit to zero (soft and hard, so the process cannot raise it
    again) and, on Linux, clears the "dumpable" flag, which also stops other processes
    of the same user from attaching with ptrace or reading /proc/PID/mem.  Where an
    operating system offers neither, nothing happens.  The `msk` command calls it at
    start; programs using the Python API call it themselves.
    """
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource  # POSIX only

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
