"""Overrides shared by tests (imported by conftest.py and by tests that start subprocesses)."""

# The tiny network made smaller still (one hourglass level, 16 features): for tests of the
# training machinery (resume, multi-process, bad data), where the network is beside the point
# and tracing time is the cost.
MICRO = ["model.hourglass_levels=1", "model.features=16"]

# The finished micro run shared by several tests (conftest's ``micro_run``): 4 steps, logged
# every step, evaluated at steps 2 and 4 on 8 test samples, in-process examples.
MICRO_RUN = ["train.steps=4", "train.log_every=1", "train.eval_every=2", "train.eval_limit=8",
             "train.image_summaries=False", "data.workers=0"]  # fmt: skip
