"""The unlock agent: a small per-user process that holds an unlock box in memory only.

`msk unlock` starts one per profile (like ssh-agent or rbw-agent).  It listens on a Unix
socket, mode 0600, in a directory of its own, mode 0700, answers only processes of its own
user (SO_PEERCRED on Linux), and exits at the timeout, measured on the boot-time clock
(which setting the wall clock does not move and which keeps counting through suspend), or
on `msk lock`.  Nothing of it is ever written to disk.

What it holds is the unlock box: the account keys encrypted under a key derived from the
session secret, which only the user's shell holds (`MSK_SESSION`).  So the agent never
sees a key in the clear, and the secret alone opens nothing once the agent is gone.

Run as `python -m mskclient._agent SOCKET SECONDS` with the box on standard input; it
detaches, prints "ready" once it listens and closes its output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._errors import UsageError
from ._harden import harden_process

__all__ = ["agent_socket", "fetch_box", "start_agent", "stop_agent"]

#: Longest request or answer line; a box is a few hundred bytes.
_MAX_LINE = 64 * 1024
#: How long one side waits for the other on a connection before giving up on it.
_IO_TIMEOUT = 5.0
#: The agent re-checks its deadline and its socket at least this often.
_WAKE_EVERY = 5.0


def agent_socket(root: Path, profile: str) -> Path:
    """Socket of the agent for `profile` of the configuration in `root`.

    It lives in `$XDG_RUNTIME_DIR` (a per-user tmpfs on most Linux systems) or the
    temporary directory, in `mskclient-<uid>/`, named by a hash of the configuration
    directory and profile: a Unix socket path must stay under about 100 bytes.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha256(f"{root.resolve()}\n{profile}".encode()).hexdigest()[:32]
    return Path(base) / f"mskclient-{os.getuid()}" / f"{digest}.sock"


def _private_directory(directory: Path, *, create: bool) -> bool:
    """Whether `directory` is ours alone (a real directory, our uid, no group/other access)."""
    if create:
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700, parents=False)
    try:
        info = directory.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UsageError(f"{directory} must be a directory of this user with mode 0700; remove it or fix it")
    return True


def _ask(path: Path, request: dict[str, Any]) -> dict[str, Any] | None:
    """One request to the agent at `path`; None if no agent listens there."""
    if not hasattr(socket, "AF_UNIX") or not _private_directory(path.parent, create=False):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(_IO_TIMEOUT)
        try:
            conn.connect(str(path))
            conn.sendall(json.dumps(request).encode() + b"\n")
            answer = _read_line(conn)
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
            return None  # no agent, or one that is exiting
        except OSError as exc:
            raise UsageError(f"the unlock agent at {path} did not answer: {exc}") from None
    try:
        reply = json.loads(answer)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_LINE:
            raise OSError("line too long")
    return data


def fetch_box(path: Path) -> tuple[str, int] | None:
    """The unlock box and its expiry (Unix time) held by the agent, or None if there is none."""
    reply = _ask(path, {"op": "get"})
    if reply is None:
        return None
    box, expires = reply.get("box"), reply.get("expiresAt")
    if not isinstance(box, str) or type(expires) is not int:
        return None
    return box, expires


def stop_agent(path: Path) -> bool:
    """Ask the agent to forget its box and exit; True if one was running."""
    return _ask(path, {"op": "stop"}) is not None


def start_agent(path: Path, box: str, expires_at: int, timeout: float) -> None:
    """Start a detached agent holding `box` for `timeout` seconds (replacing a previous one)."""
    if not hasattr(socket, "AF_UNIX"):
        raise UsageError("msk unlock needs Unix domain sockets, which this system lacks")
    stop_agent(path)
    _private_directory(path.parent, create=True)
    command = [sys.executable, "-m", "mskclient._agent", str(path), repr(float(timeout))]
    try:
        ran = subprocess.run(  # noqa: S603  (our own interpreter and module, no shell)
            command,
            input=json.dumps({"box": box, "expiresAt": expires_at}).encode(),
            capture_output=True,
            timeout=60,
            start_new_session=True,
            cwd="/",
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"the unlock agent did not start: {exc}") from None
    if ran.returncode != 0 or ran.stdout.strip() != b"ready":
        reason = ran.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no reason given"]
        raise UsageError(f"the unlock agent did not start: {reason[0]}")


# --- the agent process ----------------------------------------------------------------------
def _clock() -> float:
    """Seconds on a clock no user can set and that counts suspended time (Linux: CLOCK_BOOTTIME)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


def _peer_is_us(conn: socket.socket) -> bool:
    """Whether the connecting process runs as our uid (Linux SO_PEERCRED; elsewhere the 0700
    directory and 0600 socket are what keep other users out)."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return True
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    return bool(uid == os.getuid())


def _listen(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()  # left by an agent that was killed
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # created 0600: no moment where another user could connect
    try:
        server.bind(str(path))
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    server.listen(8)
    return server


def _serve(server: socket.socket, path: Path, inode: int, box: bytearray, expires_at: int, timeout: float) -> None:
    """Answer `get` and `stop` until the deadline, `stop`, or the socket being replaced."""
    deadline = _clock() + timeout
    while (left := deadline - _clock()) > 0:
        ready, _, _ = select.select([server], [], [], min(left, _WAKE_EVERY))
        if _inode(path) != inode:
            return  # removed, or a newer agent took this profile's socket
        if not ready:
            continue
        conn, _ = server.accept()
        with conn:
            conn.settimeout(_IO_TIMEOUT)
            if not _peer_is_us(conn):
                continue
            try:
                request = json.loads(_read_line(conn))
                op = request.get("op") if isinstance(request, dict) else None
                if op == "get":
                    reply = {"box": box.decode(), "expiresAt": expires_at}
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                elif op == "stop":
                    path.unlink()  # first, so no later client queues on a socket about to close
                    conn.sendall(b'{"stopped": true}\n')
                    return
            except (OSError, ValueError):
                continue


def _inode(path: Path) -> int | None:
    try:
        return path.lstat().st_ino
    except FileNotFoundError:
        return None


def _main(argv: list[str]) -> int:
    harden_process()  # before the box is read: no core dump, no ptrace of this process
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # clean up on `kill` too
    path, timeout = Path(argv[0]), float(argv[1])
    request = json.loads(sys.stdin.buffer.read(_MAX_LINE))
    box, expires_at = bytearray(request["box"].encode()), int(request["expiresAt"])
    if os.fork() != 0:  # detach: the child, no session leader, can never regain a terminal
        os._exit(0)
    server = _listen(path)  # in the serving process, so SO_PEERCRED names it to clients
    inode = _inode(path)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)  # let `msk unlock` see the end of our output and return
    try:
        if inode is not None:
            _serve(server, path, inode, box, expires_at, timeout)
    finally:
        box[:] = bytes(len(box))  # Python may hold other copies; the process exit frees them
        if _inode(path) == inode:
            path.unlink()
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
