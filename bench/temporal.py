"""The temporal model's cost per frame beside the image model's (``--sections temporal``).

Random weights (speed does not depend on them), batched as ``c2f eval --temporal`` runs them:

* the image model of ``--video-config`` (the demo's by default): the jitted Predictor on 32
  prepared crops (the per-frame work a temporal model adds to);
* each temporal design, centred and causal, at the default config (27-frame windows, 128
  channels), on 256 windows of that keypoint set (:class:`c2f.temporal.apply.Refiner`).
"""

import sys

import numpy as np
from flax import nnx

from bench.harness import Contender, interleave, print_rows
from bench.models import load
from c2f.model import C2FPose
from c2f.serving.predictor import Predictor
from c2f.temporal import DESIGNS, TemporalConfig, TemporalModel
from c2f.temporal.apply import Refiner
from c2f.temporal.windows import FEATURES


def contenders(config: str, windows: int = 256, crops: int = 32) -> list:
    cfg = load(config, "float32")
    model = C2FPose(cfg.model, rngs=nnx.Rngs(0))
    model.eval()
    predictor = Predictor(cfg, *nnx.split(model))
    rng = np.random.default_rng(0)
    res = cfg.model.input_res
    batch = {"image": rng.integers(0, 255, (crops, res, res, 3), dtype=np.uint8),
             "hm_to_img": np.tile(np.eye(2, 3, dtype=np.float32) * 4, (crops, 1, 1)),
             "intrinsics": np.tile(np.float32([1000, 1000, 500, 500]), (crops, 1)),
             "distortion": np.zeros((crops, 5), np.float32)}  # fmt: skip
    group = f"per frame: image model ({config}) and temporal models"
    out = [Contender(f"image model, {crops} crops", lambda: predictor.run_crops(batch), crops,
                     group=group)]  # fmt: skip
    joints = cfg.model.keypoints.num_joints
    for design in DESIGNS:
        for causal in (False, True):
            tcfg = TemporalConfig(design=design, joints=joints, causal=causal)
            temporal = TemporalModel(tcfg, rngs=nnx.Rngs(0))
            temporal.eval()
            refiner = Refiner(temporal, batch=windows)
            w = rng.normal(0, 0.3, (windows, tcfg.window, joints, FEATURES)).astype(np.float32)
            name = f"temporal {design}{' causal' if causal else ''}, {windows} windows"
            out.append(Contender(name, lambda r=refiner, w=w: r.windows(w), windows, group=group))
    return out


def main(argv=None) -> int:
    """``python -m bench.temporal [CONFIG]``: the rows above, interleaved (no torch needed)."""
    argv = sys.argv[1:] if argv is None else argv
    rows = interleave(contenders(argv[0] if argv else "demo"), rounds=5, calls=3)
    print_rows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
