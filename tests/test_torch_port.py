"""The architecture proven against the PyTorch twins (../shared/peers/torch_c2f.py).

With torch installed (``pip install torch==2.13.0``), the twins' weights are ported into our
model and both must give the same volumes on the same input; without torch (CI) the
equivalence tests skip with their reason. The port's error handling needs no torch.
"""

import importlib.util
import pathlib

import numpy as np
import pytest
from flax import nnx

from c2f.config import load_config
from c2f.model import C2FPose, ModelConfig
from c2f.model.torch_port import from_state_dict, twin_name

PEERS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "peers" / "torch_c2f.py"


@pytest.fixture(scope="module")
def twin():
    torch = pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0)")
    if not PEERS.is_file():
        pytest.skip(f"PyTorch twin not found at {PEERS}")
    spec = importlib.util.spec_from_file_location("torch_c2f", PEERS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return torch, module


def _randomised_twin(torch, module, name):
    torch.manual_seed(0)
    net = module.build(module.CONFIGS[name]).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics and affine parameters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
    return net


@pytest.mark.parametrize("name, config", [("paper", "paper"), ("uniform", "uniform")])
def test_same_volumes_as_the_twin(twin, name, config):
    torch, module = twin
    net = _randomised_twin(torch, module, name)
    cfg = load_config(config).model
    cfg = ModelConfig(**{**cfg.__dict__, "compute_dtype": "float32"})
    model = from_state_dict(cfg, {k: v.numpy() for k, v in net.state_dict().items()})
    x = np.random.default_rng(0).uniform(size=(2, 256, 256, 3)).astype(np.float32)
    with torch.inference_mode():
        ref = [v.numpy() for v in net(torch.from_numpy(x.transpose(0, 3, 1, 2)))]
    graphdef, state = nnx.split(model)
    import jax

    ours = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, x)
    for r, o in zip(ref, ours):
        o = np.asarray(o)
        np.testing.assert_allclose(o, r.reshape(o.shape), atol=5e-5 * max(1.0, np.abs(r).max()))


def test_port_errors_name_the_module():
    cfg = ModelConfig(design="stacked", depths=(1, 4), features=16, wide_features=32,
                      input_res=64, hourglass_levels=2)  # fmt: skip
    model = C2FPose(cfg, rngs=nnx.Rngs(0))
    # A state dict in the twin's layout, made from our own weights.
    sd = {}
    for path, node in nnx.iter_graph(model):
        name = None
        if hasattr(node, "kernel") and not isinstance(node, nnx.Variable):
            name = twin_name(path, "stacked")
            sd[f"{name}.weight"] = np.asarray(node.kernel[...]).transpose(3, 2, 0, 1)
            sd[f"{name}.bias"] = np.asarray(node.bias[...])
        elif hasattr(node, "mean") and hasattr(node, "scale"):
            name = twin_name(path, "stacked")
            for ours, theirs in (("scale", "weight"), ("bias", "bias"), ("mean", "running_mean"),
                                 ("var", "running_var")):  # fmt: skip
                sd[f"{name}.{theirs}"] = np.asarray(getattr(node, ours)[...])
    assert "hgs.1.up.2.c3.weight" in sd and "lins.0.1.1.running_var" in sd
    assert "r456.2.skip.weight" in sd and "cat_convs.0.weight" in sd
    ported = from_state_dict(cfg, sd)
    np.testing.assert_array_equal(
        ported.stages[1].head.kernel[...], model.stages[1].head.kernel[...]
    )
    bad = dict(sd)
    bad["heads.0.weight"] = bad["heads.0.weight"][:3]
    with pytest.raises(ValueError, match="heads.0.weight"):
        from_state_dict(cfg, bad)
    missing = {k: v for k, v in sd.items() if not k.startswith("lins.1.0.1")}
    with pytest.raises(ValueError, match="lins.1.0.1"):
        from_state_dict(cfg, missing)
    with pytest.raises(ValueError, match="match no layer"):
        from_state_dict(cfg, {**sd, "extra.weight": np.zeros(3)})
