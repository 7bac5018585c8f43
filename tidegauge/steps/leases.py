"""Store leases: who holds one, and holding one for a block of work."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from tidegauge.store.store import Store
from tidegauge.warehouses.base import WarehouseError


def holder_name() -> str:
    """Who holds a lease: host, process and thread (the web scheduler runs in a thread)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@contextmanager
def exclusive(store: Store, name: str, *, timeout: float) -> Iterator[None]:
    """Hold a store lease for the block, waiting up to ``timeout`` seconds for it."""
    holder = holder_name()
    deadline = time.monotonic() + timeout
    ttl = timedelta(seconds=max(timeout, 60.0))
    while not store.acquire_lease(name, holder, ttl, datetime.now(UTC)):
        if time.monotonic() > deadline:
            raise WarehouseError(f"another tidegauge process holds '{name}' for too long")
        time.sleep(0.2)
    try:
        yield
    finally:
        store.release_lease(name, holder)
