"""The paper config's programs lowered for GPU and TPU (no device needed): what XLA will run.

``jax.export`` (and the ``lowering_platforms`` it uses) lowers for a platform the host does
not have. The StableHLO shows what the
CPU-only workarounds (:mod:`c2f.model.conv`, :mod:`c2f.model.channel_ops`) leave behind on
other platforms, where the network computes in bfloat16, and that nothing calls back to the
host.
"""

import collections
import re

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from c2f.config import load_config
from c2f.inference import Inference
from c2f.model import abstract_model

CALLBACKS = re.compile(r"custom_call @\w*(callback|host)\w*", re.I)
CONV = re.compile(
    r"stablehlo.convolution.*?: \((tensor<[^>]*>), (tensor<[^>]*>)\) -> (tensor<[^>]*>)"
)


def _dtype(tensor: str) -> str:
    return re.match(r"tensor<(?:[0-9]+x)*(\w+)>", tensor).group(1)


def _spec(x):
    return jax.ShapeDtypeStruct(x.shape, x.dtype)


@pytest.fixture(scope="module")
def paper():
    cfg = load_config("paper")
    assert cfg.model.compute_dtype == "bfloat16"
    return cfg


@pytest.fixture(scope="module")
def conv_counts(paper):
    """(all, 1x1 stride-1) convolution layers of the paper network."""
    from c2f.model.conv import Conv

    convs = [m for _, m in nnx.iter_modules(abstract_model(paper.model)) if isinstance(m, Conv)]
    ones = [m for m in convs if m.kernel.shape[0] == 1 and m.stride == 1]
    return len(convs), len(ones)


def _batch(cfg, size=2):
    r = cfg.model.input_res
    return {"image": jax.ShapeDtypeStruct((size, r, r, 3), jnp.uint8),
            "hm_to_img": jax.ShapeDtypeStruct((size, 2, 3), jnp.float32),
            "intrinsics": jax.ShapeDtypeStruct((size, 4), jnp.float32),
            "distortion": jax.ShapeDtypeStruct((size, 5), jnp.float32),
            "coords": jax.ShapeDtypeStruct((size, 17, 3), jnp.float32),
            "mask": jax.ShapeDtypeStruct((size, 17), jnp.bool_)}  # fmt: skip


def _lower(traced, platforms) -> str:
    """StableHLO of a traced function lowered for ``platforms`` (traced once, lowered often)."""
    return traced.lower(lowering_platforms=platforms).as_text()


def test_predictor_lowers_for_gpu_and_tpu_with_bf16_products_and_f32_readout(paper, conv_counts):
    model = abstract_model(paper.model)
    model.eval()
    graphdef, state = nnx.split(model)
    inference = Inference(paper, graphdef, state, decode="soft")
    leaves = [_spec(x) for x in jax.tree.leaves(state)]
    batch = {k: v for k, v in _batch(paper).items() if k not in ("coords", "mask")}
    traced = inference._fn.trace(leaves, batch)
    text = {p: _lower(traced, (p,)) for p in ("cpu", "cuda", "tpu")}
    both = _lower(traced, ("cuda", "tpu"))  # one module, two platforms
    exported = jax.export.export(inference._fn, platforms=("cpu", "cuda", "tpu"))(leaves, batch)
    assert exported.platforms == ("cpu", "cuda", "tpu")  # a serializable multi-platform artifact
    assert both.count("stablehlo.convolution") == 2 * text["cuda"].count("stablehlo.convolution")
    for platform in ("cuda", "tpu"):
        hlo = text[platform]
        assert not CALLBACKS.search(hlo), platform
        convs = CONV.findall(hlo)
        # Every convolution, 1x1 included (no CPU matrix-product rewrite): bf16 in, f32 out.
        assert len(convs) == conv_counts[0]
        assert {(_dtype(a), _dtype(b), _dtype(c)) for a, b, c in convs} == {("bf16", "bf16", "f32")}
        # The soft-argmax's softmax over the 64^3 volume runs in f32.
        exps = re.findall(r"stablehlo.exponential[^:]*: (tensor<[^>]*>)", hlo)
        assert exps and {_dtype(t) for t in exps} == {"f32"}
        assert any(t.startswith("tensor<2x17x64x64x64x") for t in exps)
    # On the CPU the 1x1 convolutions are matrix products (the measured workaround).
    assert len(CONV.findall(text["cpu"])) == conv_counts[0] - conv_counts[1]
    assert text["cpu"].count("stablehlo.dot_general") >= conv_counts[1]


def test_train_step_lowers_for_gpu_and_tpu_with_bf16_convolutions(paper):
    from c2f.config import apply_overrides
    from c2f.model.conv import Conv
    from c2f.train.state import abstract_train_state
    from c2f.train.steps import make_train_step

    # The paper's recipe and layers on 2 stages and 2 pooling levels: every kind of layer and
    # gradient is there, and tracing the backward pass takes a quarter of the paper's 44 s. As
    # one program (the recipe runs the same layers segment by segment, tests/test_staged.py).
    cfg = apply_overrides(
        paper, ["model.depths=(1, 64)", "model.hourglass_levels=2", "train.programs=one"]
    )
    model = abstract_model(cfg.model)
    conv_counts = (sum(isinstance(m, Conv) for _, m in nnx.iter_modules(model)),)
    graphdef, state = abstract_train_state(cfg)
    step = make_train_step(cfg, graphdef)
    batch = {k: _batch(cfg)[k] for k in ("image", "coords", "mask")}
    traced = step.trace(jax.tree.map(_spec, state), batch)
    for platform in ("cuda", "tpu"):
        hlo = _lower(traced, (platform,))
        assert not CALLBACKS.search(hlo), platform
        convs = CONV.findall(hlo)
        kinds = collections.Counter((_dtype(a), _dtype(b), _dtype(c)) for a, b, c in convs)
        # The forward convolutions accumulate in f32; the gradients' take bf16 operands: no
        # convolution runs on f32 operands.
        assert kinds[("bf16", "bf16", "f32")] == conv_counts[0], platform
        assert sum(n for (a, b, _), n in kinds.items() if (a, b) != ("bf16", "bf16")) == 0
        # The gradients' are there: one call of the convolution's jitted backward per
        # convolution (c2f.model.conv._conv_grads; jax lowers it once per signature).
        assert sum(kinds.values()) > conv_counts[0]
        assert len(re.findall(r"call @_conv_grads\w*\(", hlo)) == conv_counts[0], platform
        exps = re.findall(r"stablehlo.exponential[^:]*: (tensor<[^>]*>)", hlo)
        assert exps and {_dtype(t) for t in exps} == {"f32"}
