"""Stream tests start a real broker (tests/streams/broker.py)."""

from tests.streams.broker import broker

__all__ = ["broker"]
