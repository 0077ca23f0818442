"""``c2f export --temporal NAME``: a run's temporal model as its own StableHLO artifact.

Read by :class:`c2f.serving.deploy.temporal.TemporalArtifact` (jax and numpy only).
"""

import json
import zipfile

import jax
import numpy as np
from flax import nnx

from c2f.outputs import replacing
from c2f.serving.deploy.stablehlo import META_FILE, STABLEHLO_FILE
from c2f.serving.deploy.temporal import FORMAT
from c2f.temporal.run import load, run_folder
from c2f.temporal.windows import FEATURES


def export_temporal(workdir, name: str, out, *, platforms=("cpu", "cuda"), heatmap_px: int):
    """Write the temporal model ``WORKDIR/temporal/NAME`` to ``out``; returns its meta."""
    cfg, model, meta = load(workdir, name)
    # The weights as constants; the dropout's random state (unused in evaluation mode) as is.
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    weights = jax.tree.map(np.asarray, params)

    def fn(windows):
        return nnx.merge(graphdef, weights, rest)(windows)

    (b,) = jax.export.symbolic_shape("b")
    spec = jax.ShapeDtypeStruct((b, cfg.model.window, cfg.model.joints, FEATURES), np.float32)
    exported = jax.export.export(jax.jit(fn), platforms=tuple(platforms))(spec)
    info = {"format": FORMAT, "name": name, "design": cfg.model.design,
            "window": cfg.model.window, "causal": cfg.model.causal, "joints": cfg.model.joints,
            "features": FEATURES, "heatmap_px": int(heatmap_px), "step": int(meta["step"]),
            "platforms": list(exported.platforms),
            "source": str(run_folder(workdir, name).resolve())}  # fmt: skip
    with replacing(out) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(META_FILE, json.dumps(info, indent=2))
        archive.writestr(STABLEHLO_FILE, bytes(exported.serialize()))
    return info
