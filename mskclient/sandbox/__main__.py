"""`python -m mskclient.sandbox`: the same as `msk sandbox` (used by `Sandbox(process=True)`)."""

from ..cli._sandbox import sandbox

sandbox(prog_name="python -m mskclient.sandbox")
