"""Benchmarks and evaluation harnesses (run on purpose; they print JSON)."""
