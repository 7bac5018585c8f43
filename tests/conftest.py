"""Shared fixtures: the multi-engine ``engine`` fixture lives in tests/engines.py."""

pytest_plugins = ["tests.engines"]
