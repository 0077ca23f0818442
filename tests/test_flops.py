"""The bench's FLOP count, from the network's own layer shapes, against XLA's CPU count."""

import dataclasses

import pytest

from c2f.config import load_config
from c2f.model import summary


@pytest.mark.parametrize("recipe", ["paper", "uniform"])
def test_layer_count_equals_xla_cpu_within_one_percent(recipe):
    """Both designs at their real widths: the uniform network whole, the paper's stacked one
    with two of its four stages (its stages repeat: 0.37 % apart with four, 0.3 % with two;
    half the compilation)."""
    cfg = load_config(recipe).model
    if recipe == "paper":
        cfg = dataclasses.replace(cfg, depths=(1, 64))
    counted = summary.model_flops(cfg, batch=1)
    xla = summary.forward_cost(cfg, batch=1)["flops"]
    assert abs(counted - xla) / xla < 0.01


def test_batches_and_training_steps():
    cfg = load_config("tiny").model
    one = summary.model_flops(cfg, batch=1)
    assert summary.model_flops(cfg, batch=3) == 3 * one
    assert summary.model_flops(cfg, batch=1, train=True) == 3 * one  # forward and backward
