"""Start-up benchmark of `msk`: the short commands a script or a TAB press runs again and again.

Run as `python bench/cli.py [--repeat R] [--venv DIR]`.  Each case is a fresh process, timed from
spawn to exit, against the bare interpreter (`python -c pass`, the same interpreter and site as
`msk`) measured in the same run.  The cases alternate with the reference round after round, so a
busy spell on the shared machine falls on all of them alike, and each figure is the median of R
rounds.  The CPU time of each process (user + system) is shown beside: on a loaded machine a
process waits for a core, which the wall time counts and the CPU time does not.

* `msk --version`, `msk --help`, `msk cards --help`;
* shell completion of a command name, as bash asks for it on TAB (`msk ca<TAB>`).

`--venv DIR` measures the `msk` and `python` of another environment, e.g. a regular
(non-editable) `pip install .`, which is what users get: an editable install adds an import hook
that every process of its environment pays, the reference included.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The ceiling, in multiples of the bare interpreter, for the cases that carry one.
GOAL = 5.0


def cases(msk: str) -> dict[str, tuple[list[str], dict[str, str], bool]]:
    """name -> (argv, extra environment, whether the goal applies)."""
    completion = {"_MSK_COMPLETE": "bash_complete", "COMP_WORDS": "msk ca", "COMP_CWORD": "1"}
    return {
        "msk --version": ([msk, "--version"], {}, True),
        "msk --help": ([msk, "--help"], {}, True),
        "msk cards --help": ([msk, "cards", "--help"], {}, False),
        "complete `msk ca`": ([msk], completion, True),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return seconds, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11, help="rounds; the median counts (default 11, at least 7)")
    parser.add_argument("--venv", type=Path, help="measure this environment's msk and python (default: this one)")
    args = parser.parse_args()
    if args.repeat < 7:
        parser.error("--repeat must be at least 7")
    bin_dir = args.venv / "bin" if args.venv else Path(sys.executable).parent
    python, msk = str(bin_dir / "python"), str(bin_dir / "msk")
    if not Path(msk).exists():
        sys.exit(f"no msk in {bin_dir}: install mskclient there first")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("_MSK_COMPLETE", "COMP_", "MSK_"))}
    runs = {"python -c pass": ([python, "-c", "pass"], {}, False), **cases(msk)}
    for argv, extra, _ in runs.values():  # warm the page cache and the bytecode caches off the clock
        timed(argv, {**base_env, **extra})
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, (argv, extra, _) in runs.items():
            wall, used = timed(argv, {**base_env, **extra})
            times[name].append(wall)
            cpu[name].append(used)
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    reference = medians["python -c pass"]
    print(f"{bin_dir.parent}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"median of {args.repeat} alternating rounds, wall time per process:\n")
    ok = True
    for name, (_, _, has_goal) in runs.items():
        ratio = medians[name] / reference
        verdict = ""
        if has_goal:
            verdict = f"  (goal ≤ {GOAL:g}×: {'ok' if ratio <= GOAL else 'FAIL'})"
            ok = ok and ratio <= GOAL
        spread = f"{min(times[name]) * 1e3:6.1f}–{max(times[name]) * 1e3:6.1f}"
        cpu_ratio = cpu_medians[name] / cpu_medians["python -c pass"]
        print(
            f"  {name:<20} {medians[name] * 1e3:7.1f} ms  [{spread}]  {ratio:5.2f}× bare{verdict}"
            f"    CPU {cpu_medians[name] * 1e3:6.1f} ms {cpu_ratio:5.2f}×"
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
