"""How long the ``tidegauge`` command takes to start, as JSON.

Each figure is the median wall time of ``--repeat`` fresh processes. ``--help`` and
``--version`` are reported as a ratio to a process that only imports the CLI framework
(typer), measured in the same run, so the figure means the same on a slow or busy machine;
the target is at most 2. ``status`` runs against the demo's store (built first, quietly),
the target is under one second.

    .venv/bin/python -m bench.cli [--repeat 7] [--demo-days 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def installed_env(cache: str) -> dict[str, str]:
    """The environment of an installed tidegauge: pip and uv compile bytecode at install
    time, so a user's start-up never compiles sources. A checkout run with
    PYTHONDONTWRITEBYTECODE compiles every module on every start instead (seconds, not
    milliseconds); bytecode goes to a private cache so the shared environment is not
    written to."""
    env = os.environ.copy()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def wall(argv: list[str], repeat: int, env: dict[str, str], cwd: Path | None = None) -> float:
    subprocess.run(argv, check=True, capture_output=True, cwd=cwd, env=env)  # warm the cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=cwd, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--demo-days", type=int, default=30)
    ap.add_argument("--demo-dir", type=Path, help="an existing demo folder (skips the build)")
    args = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "tidegauge.cli.main"]
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as d:
        env = installed_env(cache)
        typer_alone = wall([py, "-c", "import typer"], args.repeat, env)
        bare_python = wall([py, "-c", "pass"], args.repeat, env)
        help_s = wall([*cli, "--help"], args.repeat, env)
        version_s = wall([*cli, "--version"], args.repeat, env)
        demo = args.demo_dir or Path(d)
        if args.demo_dir is None:
            from tidegauge.cli.demo import run_demo

            run_demo(demo, quiet=True, days=args.demo_days)
        status_s = wall([*cli, "status"], args.repeat, env, cwd=demo)
        alerts_s = wall([*cli, "alerts", "--limit", "50"], args.repeat, env, cwd=demo)
    out = {
        "repeat": args.repeat,
        "median_seconds": {
            "python_alone": round(bare_python, 3),
            "import_typer": round(typer_alone, 3),
            "help": round(help_s, 3),
            "version": round(version_s, 3),
            "status_demo": round(status_s, 3),
            "alerts_demo": round(alerts_s, 3),
        },
        "ratio_to_import_typer": {
            "help": round(help_s / typer_alone, 2),
            "version": round(version_s / typer_alone, 2),
        },
        "targets": {
            "help_ratio_at_most": 2.0,
            "version_ratio_at_most": 2.0,
            "status_seconds_under": 1.0,
        },
        "met": {
            "help": help_s / typer_alone <= 2.0,
            "version": version_s / typer_alone <= 2.0,
            "status": status_s < 1.0,
        },
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
