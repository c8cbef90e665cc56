"""The pytest plugin users load through the pytest11 entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import httpx

from mskclient.sandbox import Sandbox


def test_entry_point_is_declared() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "mskclient"]
    assert plugin.value == "mskclient.pytest_plugin"


def test_msk_sandbox_fixture(msk_sandbox: Sandbox) -> None:
    assert msk_sandbox.url.startswith("http://127.0.0.1:")
    assert httpx.get(msk_sandbox.url + "/api/health").json()["ok"] is True
    assert msk_sandbox.config.rate_limits == {}


def test_plugin_loads_without_the_sandbox_extra() -> None:
    """pytest must still start where mskclient is installed without starlette/uvicorn."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "import mskclient.pytest_plugin as p; assert 'mskclient.sandbox' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr
