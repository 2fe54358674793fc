"""Benchmarks: speed measured against the machine's limits, not asserted in tests."""
