"""Shared fixtures: the multi-engine ``engine`` fixture lives in tests/engines.py; a real
HTTP receiver on loopback (``recorder``) stands in for every webhook-style service."""

from collections.abc import Iterator

import pytest

from tests.notifiers.servers import HttpRecorder

pytest_plugins = ["tests.engines"]


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    server = HttpRecorder().start()
    try:
        yield server
    finally:
        server.stop()
