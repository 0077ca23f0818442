"""The training step run segment by segment (train.programs="segments") against one program.

The numbers are compared on the tiny recipe's design (uniform), which the suite can afford;
``python -m bench.staged`` compares them on the paper network (stacked), and every variable of
both designs belongs to exactly one segment (below).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from c2f.config import apply_overrides, load_config
from c2f.model import abstract_model
from c2f.model.segments import segments
from c2f.train import staged
from c2f.train.state import abstract_train_state
from c2f.train.steps import make_train_step
from c2f.train.update import apply_gradients, make_gradients_one_program

# The paper's design with three stages, one pooling level and 16 features (structure only).
STACKED = ["model.design=stacked", "model.depths=(1, 2, 4)", "model.hourglass_levels=1",
           "model.features=16", "model.wide_features=32"]  # fmt: skip
# The tiny recipe's network with one pooling level, Adam with clipping at work: both stages'
# hourglasses share one program.
UNIFORM = ["model.hourglass_levels=1", "model.features=16", "model.compute_dtype=float32",
           "train.batch_size=2", "data.augment_on=host", "optim.name=adam",
           "optim.clip_norm=1.0"]  # fmt: skip


def _filled(state):
    """Random values in a state's shapes, drawn on the host: no program compiled per shape."""
    rng = np.random.default_rng(1)

    def fill(path, leaf):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            return jnp.zeros(leaf.shape, leaf.dtype)
        if path[-2].key in ("scale", "var"):  # BatchNorm: positive (path[-1]: .value)
            return jnp.asarray(rng.uniform(0.5, 1.5, leaf.shape), leaf.dtype)
        return jnp.asarray(rng.normal(0, 0.2, leaf.shape), leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, state)


@pytest.fixture(scope="module")
def case():
    cfg = apply_overrides(load_config("tiny"), UNIFORM)
    graphdef, state = abstract_train_state(cfg)
    state = _filled(state)
    b, res, joints = 2, cfg.model.input_res, cfg.model.joints
    rng = np.random.default_rng(0)
    batch = {
        "image": jnp.asarray(rng.integers(0, 255, (b, res, res, 3), dtype=np.uint8)),
        "coords": jnp.asarray(rng.uniform(3, res / 4 - 3, (b, joints, 3)), jnp.float32),
        "mask": jnp.ones((b, joints), jnp.float32),
    }
    return cfg, graphdef, state, batch


@pytest.mark.parametrize("design", ["stacked", "uniform"])
def test_every_variable_belongs_to_one_segment(design):
    overrides = STACKED if design == "stacked" else ["model.depths=(1, 2, 4)"]
    cfg = apply_overrides(load_config("tiny"), overrides)
    model_state = nnx.state(abstract_model(cfg.model))
    paths = [path for path, _ in nnx.to_flat_state(model_state)]
    owners = {path: [] for path in paths}
    for segment in segments(cfg.model):
        owned = staged._owned(segment.skip)
        for path in paths:
            rel = path[len(segment.path) :]
            if path[: len(segment.path)] == segment.path and owned(rel, None):
                owners[path].append(segment.name)
    assert all(len(names) == 1 for names in owners.values()), {
        p: n for p, n in owners.items() if len(n) != 1
    }


def test_segmented_step_equals_one_program(case):
    cfg, graphdef, state, batch = case

    (loss, _), grads, stats = make_gradients_one_program(graphdef, cfg)(state, batch)
    programs = len(staged._FORWARDS)
    (loss2, _), grads2, stats2 = staged.make_gradients(cfg, graphdef)(state, batch)
    chain = segments(cfg.model)
    # 5 segments, 4 programs: the hourglasses share one, each compiled once.
    assert len(chain) == 5 and len(staged._FORWARDS) - programs == 4
    assert all(f._cache_size() == 1 for f in list(staged._FORWARDS.values())[programs:])
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
    grads2, stats2 = staged.whole(grads2, chain), staged.whole(stats2, chain)
    # Compared on the host: jnp's operations would compile a program per shape.
    flat = [_host(s) for s in (stats, stats2)]
    assert flat[0].keys() == flat[1].keys()
    for key in flat[0]:
        np.testing.assert_allclose(flat[1][key], flat[0][key], rtol=1e-5, atol=1e-6)
    a, b = _host(grads), _host(grads2)
    assert a.keys() == b.keys()
    diff = sum(np.sum((a[k] - b[k]) ** 2) for k in a)
    assert np.sqrt(diff / sum(np.sum(a[k] ** 2) for k in a)) < 1e-5
    # Convolution biases that feed a BatchNorm have a true gradient of 0 (rounding either
    # way); every other leaf agrees to float32 rounding.
    for key in a:
        if key[-1] != "bias":
            atol = 1e-4 * np.max(np.abs(a[key]))
            np.testing.assert_allclose(b[key], a[key], atol=atol, err_msg=key)

    # The step: its optimiser, segment by segment, equals the whole tree's (Adam, clipped:
    # moments, counts and the global norm all take part).
    @jax.jit
    def whole_tree(state, grads, stats, loss):
        model, optimizer = nnx.merge(graphdef, state)
        nnx.update(model, stats)
        metrics = apply_gradients(model, optimizer, grads, loss, {})
        return nnx.split((model, optimizer))[1], metrics

    expected, expected_metrics = whole_tree(state, grads2, stats2, loss2)
    assert expected_metrics["grad_norm"] > 1.0  # the clipping is at work
    step = make_train_step(apply_overrides(cfg, ["train.programs=segments"]), graphdef)
    new, metrics = step(jax.tree.map(lambda x: jnp.asarray(np.asarray(x)), state), batch)
    assert jax.tree.structure(new) == jax.tree.structure(state) and bool(metrics["finite"])
    np.testing.assert_allclose(metrics["loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(metrics["grad_norm"], expected_metrics["grad_norm"], rtol=1e-5)
    got, want = _host(new), _host(expected)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-7, err_msg=key)
    assert got[(1, "step")] == 1


def _host(state) -> dict:
    """A state's leaves as numpy arrays by path."""
    return {path: np.asarray(v[...]) for path, v in nnx.to_flat_state(state)}
