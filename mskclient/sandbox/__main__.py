"""`python -m mskclient.sandbox`: a sandbox in the foreground (what `Sandbox(process=True)` runs).

The options are those of `msk sandbox`, except that the database defaults to `:memory:`
(the CLI's default file lives in the user's data directory, a CLI concern).
"""

import argparse
import sys

from . import SandboxConfig, reset_database, serve

parser = argparse.ArgumentParser(prog="python -m mskclient.sandbox", description=__doc__.splitlines()[0])
parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
parser.add_argument("--db", default=":memory:", help="SQLite file, or :memory:")
parser.add_argument("--reset", action="store_true", help="delete the database first")
parser.add_argument("--no-rate-limits", action="store_true", help="lift every rate limit and the login backoff")
parser.add_argument("--log", default=None, help="append one line per request to this file")
args = parser.parse_args()
if args.reset:
    reset_database(args.db)
config = SandboxConfig(db_path=args.db, log_path=args.log)
serve(config.lift_limits() if args.no_rate_limits else config, host=args.host, port=args.port,
      announce=lambda url: print(url, flush=True))
print("sandbox stopped", file=sys.stderr)
