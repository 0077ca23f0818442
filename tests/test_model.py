import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from c2f.config import Config, load_config
from c2f.geometry.depth_bins import DepthBins
from c2f.model import C2FPose, ModelConfig, abstract_model, conv_macs, count_params, forward_flops


@pytest.fixture(scope="module")
def tiny_cfg() -> ModelConfig:
    return load_config("tiny").model


@functools.partial(jax.jit, static_argnums=0)
def _apply(graphdef, state, images):
    model = nnx.merge(graphdef, state)
    return model(images), nnx.state(model)


def run(model, images):
    """Call the model through jax.jit on its split state (eager calls are slow op by op)."""
    volumes, state = _apply(*nnx.split(model), images)
    nnx.update(model, state)
    return volumes


@pytest.fixture(scope="module")
def images(tiny_cfg):
    return jnp.asarray(np.random.default_rng(0).uniform(size=(3, 64, 64, 3)), jnp.float32)


def test_paper_config_shapes_and_parameter_count():
    cfg = load_config("paper").model
    model = abstract_model(cfg)
    x = jax.ShapeDtypeStruct((2, 256, 256, 3), jnp.float32)
    volumes = nnx.eval_shape(lambda m, x: m(x), model, x)
    assert [v.shape for v in volumes] == [(2, 17, d, 64, 64) for d in (1, 2, 4, 64)]
    # The PyTorch twins in ../shared/peers: C2FStacked (hg-stacked-4.lua) has 53,585,847
    # parameters, C2FHourglass (hg.lua) 13,170,231; their 2- and 3-stage stacked variants
    # follow the same rules.
    assert cfg.design == "stacked" and count_params(cfg) == 53_585_847
    assert count_params(load_config("uniform").model) == 13_170_231
    assert count_params(dataclasses.replace(cfg, depths=(1, 64))) == 26_904_401
    assert count_params(dataclasses.replace(cfg, depths=(1, 4, 64))) == 40_258_197


def test_legacy_run_configs_load_as_the_uniform_network():
    from c2f.config import config_from_dict

    old = dataclasses.asdict(load_config("uniform"))
    del old["model"]["design"], old["model"]["init"]
    cfg = config_from_dict(old)
    assert cfg.model.design == "uniform" and cfg.model.init == "lecun"


def test_flops_counts():
    # The twins' FLOP counters: 109.0 GFLOPs (stacked) and 32.0 (uniform) per image.
    macs = conv_macs(load_config("paper").model)
    assert 54.4e9 < macs < 54.6e9
    macs = conv_macs(load_config("uniform").model)
    assert 15.9e9 < macs < 16.05e9
    tiny = load_config("tiny").model
    tiny_macs, tiny_flops = conv_macs(tiny), forward_flops(tiny)
    # XLA skips padded taps but adds BatchNorm and ReLU work: within a factor of 2 MACs +- 25%.
    assert 0.75 * 2 * tiny_macs < tiny_flops < 1.25 * 2 * tiny_macs
    assert forward_flops(tiny, batch=2) == pytest.approx(2 * tiny_flops, rel=0.01)


def test_tiny_forward_train_and_eval(tiny_cfg, images):
    model = C2FPose(tiny_cfg, rngs=nnx.Rngs(0))
    model.eval()
    volumes = run(model, images)
    assert [v.shape for v in volumes] == [(3, 17, 4, 16, 16), (3, 17, 16, 16, 16)]
    assert all(v.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(v))) for v in volumes)
    # Eval mode: an example's output does not depend on the rest of the batch.
    alone = run(model, images[:1])
    np.testing.assert_allclose(alone[-1], volumes[-1][:1], atol=1e-4)
    # Train mode: batch statistics are used and the running averages move.
    before = jax.tree.map(jnp.copy, nnx.state(model, nnx.BatchStat))
    model.train()
    train_out = run(model, images)
    after = nnx.state(model, nnx.BatchStat)
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), before, after)
    assert all(jax.tree.leaves(moved))
    assert not np.allclose(train_out[-1], volumes[-1], atol=1e-4)


def test_heads_feed_back_into_the_next_stage(tiny_cfg, images):
    model = C2FPose(tiny_cfg, rngs=nnx.Rngs(0))
    model.eval()
    base = run(model, images)
    # Changing the first stage's head changes the last stage's output.
    head = model.stages[0].head
    head.bias[...] = head.bias[...] + 1.0
    changed = run(model, images)
    assert not np.allclose(base[-1], changed[-1], atol=1e-4)


def test_jit_on_split_state_equals_eager(tiny_cfg, images):
    model = C2FPose(tiny_cfg, rngs=nnx.Rngs(1))
    model.eval()
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
    for a, b in zip(forward(state, images), model(images)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_bfloat16_compute_keeps_float32_params(tiny_cfg, images):
    cfg16 = dataclasses.replace(tiny_cfg, compute_dtype="bfloat16")
    m32, m16 = C2FPose(tiny_cfg, rngs=nnx.Rngs(2)), C2FPose(cfg16, rngs=nnx.Rngs(2))
    m32.eval(), m16.eval()
    params = jax.tree.leaves(nnx.state(m16, nnx.Param))
    assert all(p.dtype == jnp.float32 for p in params)
    out32, out16 = run(m32, images)[-1], run(m16, images)[-1]
    assert out16.dtype == jnp.bfloat16
    scale = float(jnp.abs(out32).max())
    assert float(jnp.abs(out16.astype(jnp.float32) - out32).max()) < 0.05 * scale


def test_narrow_stacked_network_forward_and_feedback(images, tiny_cfg):
    cfg = ModelConfig(design="stacked", depths=(1, 2, 4), features=16, wide_features=32,
                      input_res=64, hourglass_levels=2, init="torch")  # fmt: skip
    model = C2FPose(cfg, rngs=nnx.Rngs(0))
    model.eval()
    base = run(model, images)
    assert [v.shape for v in base] == [(3, 17, d, 16, 16) for d in (1, 2, 4)]
    # hg-stacked: hourglass inputs f, f + f/2, 2f; the last stage's lin keeps the wide width.
    assert model.stages[1].hourglass.up[0].conv1.kernel.shape[2] == 24
    assert model.stages[2].hourglass.up[0].conv1.kernel.shape[2] == 32
    assert model.stages[2].head.kernel.shape[2:] == (32, 17 * 4)
    # Torch7 initialises BatchNorm scales U(0, 1) and biases +-1/sqrt(fan_in); flax: 1 and 0.
    scales = np.asarray(model.res1.bn1.scale[...])
    assert 0 <= scales.min() and scales.max() <= 1 and scales.std() > 0.1
    bound = 1 / np.sqrt(7 * 7 * 3)
    assert np.abs(model.stem.bias[...]).max() <= bound and np.abs(model.stem.bias[...]).max() > 0
    assert tiny_cfg.init == "lecun"  # the tiny network (built by other tests: no new compiles)
    lecun = C2FPose(tiny_cfg, rngs=nnx.Rngs(0))
    assert np.all(lecun.res1.bn1.scale[...] == 1.0) and np.all(lecun.stem.bias[...] == 0.0)
    head = model.stages[0].head
    head.bias[...] = head.bias[...] + 1.0
    assert not np.allclose(base[-1], run(model, images)[-1], atol=1e-4)


def test_bad_input_and_config(tiny_cfg):
    model = C2FPose(tiny_cfg, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="images"):
        model(jnp.zeros((1, 32, 32, 3)))
    with pytest.raises(ValueError, match="images.*float"):
        model(jnp.zeros((1, 64, 64, 3), jnp.uint8))
    with pytest.raises(ValueError, match="depths"):
        ModelConfig(depths=(3, 64))
    with pytest.raises(ValueError, match="input_res"):
        ModelConfig(input_res=100)
    with pytest.raises(ValueError, match="compute_dtype"):
        ModelConfig(compute_dtype="float16")
    with pytest.raises(ValueError, match="design"):
        ModelConfig(design="resnet")
    with pytest.raises(ValueError, match="at least 2 stages"):
        ModelConfig(design="stacked", depths=(64,))
    with pytest.raises(ValueError, match="modules"):
        ModelConfig(design="uniform", modules=0)
    # The finest resolution is stated once (model.depths); depth_bins follows it.
    assert Config(model=ModelConfig(depths=(1, 128))).depth_bins.num_bins == 128
    with pytest.raises(ValueError, match="depth_bins.num_bins \\(16\\) is derived"):
        Config(model=ModelConfig(depths=(1, 128)), depth_bins=DepthBins(num_bins=16))
    with pytest.raises(ValueError, match="neither a named recipe .*demo.*nor a recipe file"):
        load_config("nope")
