"""bfloat16 against float32 gradients at initialisation: ``python -m bench.bf16_gradients``.

The recipe's network (``--config``, default ``paper``, whose compute dtype is bfloat16) is
initialised once; the loss's gradients on one random batch (uniform noise images, joints
uniform in the volume) are taken as one program in float32 and in bfloat16 from that same
state, and compared: the relative error and cosine over every convolution kernel, and the
cosine of each stage's head. ``bench.staged`` gives the float32 forms' agreement beside it.
"""

import argparse
import json

import numpy as np


def compare(config: str, batch: int) -> dict:
    import jax.numpy as jnp
    from flax import nnx

    from c2f.config import apply_overrides, load_config
    from c2f.train.state import abstract_train_state, create
    from c2f.train.update import make_gradients_one_program

    def cfg_of(dtype):
        settings = ["data.augment_on=host", "train.programs=one", f"model.compute_dtype={dtype}"]
        return apply_overrides(load_config(config), settings)

    cfg = cfg_of("float32")
    res, out, joints = cfg.model.input_res, cfg.model.output_res, cfg.model.joints
    rng = np.random.default_rng(0)
    data = {
        "image": jnp.asarray(rng.integers(0, 255, (batch, res, res, 3), dtype=np.uint8)),
        "coords": jnp.asarray(rng.uniform(3, out - 3, (batch, joints, 3)), jnp.float32),
        "mask": jnp.ones((batch, joints), jnp.float32),
    }
    _, state = create(cfg)
    grads = {}
    for dtype in ("float32", "bfloat16"):
        graphdef, _ = abstract_train_state(cfg_of(dtype))  # the same state, computed in dtype
        _, found, _ = make_gradients_one_program(graphdef, cfg_of(dtype))(state, data)
        flat = nnx.to_flat_state(found)
        grads[dtype] = {p: np.asarray(v[...], np.float64) for p, v in flat if p[-1] == "kernel"}
    a, b = grads["float32"], grads["bfloat16"]

    def cosine(keys):
        dot = sum(np.sum(a[k] * b[k]) for k in keys)
        return float(dot / np.sqrt(sum(np.sum(a[k] ** 2) for k in keys) *
                                   sum(np.sum(b[k] ** 2) for k in keys)))  # fmt: skip

    error = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in a) / sum(np.sum(a[k] ** 2) for k in a))
    heads = sorted(k for k in a if k[-2] == "head")
    return {
        "config": config, "batch": batch, "kernels": len(a),
        "relative_error": float(error), "cosine": cosine(list(a)),
        "head_cosine": {f"stage {k[1]}": cosine([k]) for k in heads},
    }  # fmt: skip


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.bf16_gradients", description=__doc__)
    p.add_argument("--config", default="paper")
    p.add_argument("--batch", type=int, default=2)
    args = p.parse_args(argv)
    print(json.dumps(compare(args.config, args.batch), indent=1))


if __name__ == "__main__":
    main()
