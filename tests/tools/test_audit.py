"""`make audit`: a vulnerable package fails the audit, and an unreachable advisory service is
reported as "not checked", never as "no known vulnerabilities". The OSV API (api.osv.dev, not
reachable from CI) is replaced by a loopback server that speaks its query protocol."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / "tools" / "audit.py"


class OSV(BaseHTTPRequestHandler):
    """POST /v1/query and /v1/querybatch: `leaky 1.0` has one advisory, nothing else does."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        queries = body.get("queries", [body])
        results = [{"vulns": self._vulns(q)} for q in queries]
        out = {"results": results} if "queries" in body else results[0]
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _vulns(q: dict) -> list[dict]:
        if q.get("package", {}).get("name") != "leaky" or q.get("version") != "1.0":
            return []
        return [
            {
                "id": "GHSA-test-leak-0001",
                "summary": "leaks",
                "details": "leaks secrets",
                "modified": "2026-01-01T00:00:00Z",
                "aliases": [],
                "affected": [
                    {
                        "package": {"name": "leaky", "ecosystem": "PyPI"},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}
                        ],
                    }
                ],
            }
        ]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def osv() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OSV)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()


def site(tmp_path: Path, *dists: tuple[str, str]) -> Path:
    for name, version in dists:
        info = tmp_path / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return tmp_path


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(AUDIT), *args], capture_output=True, text=True, timeout=300
    )


def test_a_vulnerable_package_fails_the_audit_and_is_named(tmp_path: Path, osv: str) -> None:
    path = site(tmp_path, ("leaky", "1.0"), ("sound", "2.0"))
    res = audit("--site-packages", str(path), "--osv-url", osv, "--services", "osv")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "VULNERABLE leaky 1.0: GHSA-test-leak-0001 (fixed in: 1.1)" in res.stdout
    assert "sound" not in res.stdout.split("{")[0]


def test_clean_packages_pass(tmp_path: Path, osv: str) -> None:
    path = site(tmp_path, ("leaky", "1.1"), ("sound", "2.0"))
    res = audit("--site-packages", str(path), "--osv-url", osv, "--services", "osv", "--strict")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout.splitlines()[0])["checked"] == 2


def test_an_unreachable_service_is_not_reported_as_clean(tmp_path: Path) -> None:
    path = site(tmp_path, ("leaky", "1.0"))
    dead = "http://127.0.0.1:9/v1/query"  # discard port: nothing listens
    res = audit("--site-packages", str(path), "--osv-url", dead, "--services", "osv")
    assert res.returncode == 0
    assert "did NOT cover 1 of 1" in res.stderr
    strict = audit("--site-packages", str(path), "--osv-url", dead, "--services", "osv", "--strict")
    assert strict.returncode == 3
