"""Schemathesis over the demo server's ``/openapi.json``, through real HTTP on loopback: every
operation, a bounded number of generated (and schema-violating) requests each, and no
answer may be a 500 or disagree with the schema (status code, content type, body), and no
request that violates the schema may be accepted (``negative_data_rejection``).

The server reads a real demo store (``tests/web/demo_site.py``: the demo's warehouse,
injected problems and replayed runs, built once per session and shared with the crawl).

Reproduce by hand against ``make demo`` (port 8765)::

    schemathesis run http://127.0.0.1:8765/openapi.json --max-examples 25 --checks all
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from tests.web.demo_site import demo_app, demo_folder  # noqa: E402

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> Iterator[str]:
    import uvicorn

    app, store = demo_app(demo_folder(tmp_path_factory))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the demo server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        store.close()


def operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_conforms_to_its_schema(demo_url: str, mode: str) -> None:
    from hypothesis import given
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    failures: dict[str, str] = {}
    tested = 0
    ops = operations(demo_url)
    assert len(ops) >= 15  # every documented operation, not an empty schema
    for op in ops:
        # every check runs, but one: the lineage body is the OpenLineage spec, declared as
        # an object, and an object that is no RunEvent is rightly a 400, not accepted
        skip = []
        if mode == "negative" and not _has_inputs(op):
            continue  # nothing to send wrong: no parameters and no body
        tested += 1
        if op.label == "POST /api/v1/lineage":
            skip.append(positive_data_acceptance)

        @given(case=op.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # run at once, inside this iteration: the loop variable is the current one
            case.call_and_validate(base_url=demo_url, timeout=30, excluded_checks=skip)  # noqa: B023

        try:
            check()
        except (Exception, BaseExceptionGroup) as e:  # collect every operation's failures
            failures[op.label] = str(e)[:2000]
    assert tested >= len(ops) // 2, f"only {tested} of {len(ops)} operations were exercised"
    assert not failures, "\n\n".join(f"{op}:\n{text}" for op, text in failures.items())


def _has_inputs(op: Any) -> bool:
    """Whether an operation takes any parameter or body a negative case could break."""
    definition = op.definition.raw if hasattr(op.definition, "raw") else op.definition
    return bool(definition.get("parameters") or definition.get("requestBody"))
