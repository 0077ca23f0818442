"""Overrides shared by tests (imported by conftest.py and by tests that start subprocesses)."""

# The tiny network made smaller still (one hourglass level, 16 features): for tests of the
# training machinery (resume, multi-process, bad data), where the network is beside the point
# and tracing time is the cost.
MICRO = ["model.hourglass_levels=1", "model.features=16"]
