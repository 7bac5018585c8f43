"""Audit the project's installed dependencies for known vulnerabilities (``make audit``).

Runs pip-audit over ``.venv``'s site-packages, first against the OSV database, then against PyPI's
per-release advisories. pip-audit prints "No known vulnerabilities found" and exits 0
even when it could not look a single package up, so this wrapper reads its JSON and says
what was actually checked:

* exit 1 when any installed package has a known vulnerability (each is listed with its
  advisory id and the fixed versions);
* exit 0 when every package was looked up and none is vulnerable;
* exit 0 with a loud warning when the advisory services were unreachable for some packages
  (an offline machine), or exit 3 with ``--strict`` (use it where the network is there).

    .venv/bin/python tools/audit.py [--site-packages PATH] [--osv-url URL] [--strict]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".venv" / ".pip-audit-cache"


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise SystemExit(f"audit: no site-packages under {venv} (run `make install` first)")
    return found[0]


def pip_audit(
    path: Path, service: str, osv_url: str | None = None
) -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report from one service, or None and the reason it failed."""
    extra = ["--osv-url", osv_url] if osv_url and service == "osv" else []
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--path",
            str(path),
            "-s",
            service,
            "-f",
            "json",
            "--progress-spinner",
            "off",
            "--cache-dir",
            str(CACHE),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        return json.loads(proc.stdout), ""
    except json.JSONDecodeError:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{service}: {last[:300]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site-packages", type=Path, default=None)
    ap.add_argument("--osv-url", default=None, help="an OSV API other than api.osv.dev")
    ap.add_argument("--services", default="osv,pypi", help="advisory services, in order")
    ap.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 3) when some packages could not be looked up",
    )
    args = ap.parse_args(argv)
    path = args.site_packages or site_packages(ROOT / ".venv")

    report, errors = None, []
    for service in args.services.split(","):
        report, err = pip_audit(path, service, args.osv_url)
        if report is not None:
            deps = report.get("dependencies", [])
            if any("skip_reason" not in d for d in deps):
                break  # this service answered for at least some packages
        errors.append(err or f"{service}: no package could be looked up")
    if report is None:  # no service answered at all: every installed package is unchecked
        installed = {
            (d.metadata["Name"], d.version)
            for d in importlib.metadata.distributions(path=[str(path)])
        }
        deps = [
            {"name": n, "version": v, "skip_reason": "no advisory service answered"}
            for n, v in sorted(installed)
        ]
    else:
        deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    checked = [d for d in deps if "skip_reason" not in d]
    skipped = [d for d in deps if "skip_reason" in d]

    for d in vulnerable:
        for v in d["vulns"]:
            fixes = ", ".join(v.get("fix_versions") or []) or "no fixed release"
            print(f"VULNERABLE {d['name']} {d['version']}: {v['id']} (fixed in: {fixes})")
    print(
        json.dumps(
            {
                "packages": len(deps),
                "checked": len(checked),
                "not_checked": len(skipped),
                "vulnerable": len(vulnerable),
                "service_errors": errors,
            }
        )
    )
    if vulnerable:
        return 1
    if skipped or not deps:
        print(
            f"WARNING: the vulnerability audit did NOT cover {len(skipped)} of {len(deps)} "
            "installed packages: the advisory services (api.osv.dev, PyPI's per-release "
            "JSON) were unreachable from this machine. Re-run `make audit` where they are.",
            file=sys.stderr,
        )
        return 3 if args.strict else 0
    print("audit: every installed package was checked; no known vulnerabilities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
