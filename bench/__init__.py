"""Benchmarks (measurements, not tests): ``python -m bench.<name>``."""
