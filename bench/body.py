"""The body model's costs: ``python -m bench.body [--repeats N] [--out DIR]``.

Measures, in one run on this machine (medians of interleaved repeats):
  * the mesh fit (c2f.body.fit, the Predictor's ``fit_mesh``): seconds per person for a batch
    of 1, 64 and 256 people (one compilation each, excluded);
  * posing the full mesh (17,346 vertices) and the decimated one (1,229), per body, batched;
  * the fit's floor on Human3.6M-shaped bodies: MPVPE of the fit to true joints, 64 bodies;
    and per keypoint set (h36m17, coco_wholebody133, interhand42) on 60 samples of a small
    synthetic split of S9, measured as ``c2f eval``'s mesh rows measure (c2f.evaluation.mesh).
Writes ``DIR/body.json``.
"""

import argparse
import json
import pathlib

import h5py
import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from bench.harness import median_seconds
from c2f.body.fit import make_fitter
from c2f.body.model import BodyModel, pose
from c2f.evaluation.mesh import (
    fitted_meshes,
    mesh_parts,
    meshes,
    part_errors,
    true_meshes,
    vertex_errors,
)
from c2f.skeleton import SKELETONS
from data_prep.synthetic import motion
from data_prep.synthetic.generate import body_scene, write_split


def _people(n: int):
    """N true bodies of the synthetic default: (keypoints [n, 17, 3], coarse vertices)."""
    scene = body_scene()
    kps, params = [], []
    actions = ("Walking", "Sitting", "Greeting", "Purchases", "Posing", "Eating")
    for i in range(n):
        subject = (1, 5, 6, 7, 8, 9, 11)[i % 7]
        rng = np.random.default_rng([i, 7])
        frames = np.arange(1)
        person = scene.person(subject, 0)
        track = scene.track(person, frames, motion.sequence_params(
            actions[i % len(actions)], subject, frames, rng, 0.25), rng)  # fmt: skip
        kps.append(track.keypoints[0])
        params.append((person.phenotype, track.rotations[0], track.root[0], track.expression[0]))
    return np.stack(kps).astype(np.float32), params


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/bench_body"))
    args = p.parse_args(argv)
    full, coarse = BodyModel.load("full"), BodyModel.load("coarse")
    fit = make_fitter(full, "h36m17")
    targets, params = _people(256)
    valid = np.ones(targets.shape[:2], np.float32)
    results = {}
    for n in (1, 64, 256):
        fit(targets[:n], valid[:n])  # compile
        t = median_seconds(lambda n=n: fit(targets[:n], valid[:n]), args.repeats)
        results[f"fit_s_per_person_batch_{n}"] = t / n
        print(f"fit, batch {n}: {1000 * t / n:.1f} ms per person ({t:.2f} s per call)")
    posed = jax.jit(jax.vmap(pose, in_axes=(None, 0, 0, 0)))
    ph = jnp.asarray(np.stack([q[0] for q in params[:64]]), jnp.float32)
    R = jnp.asarray(np.stack([q[1] for q in params[:64]]), jnp.float32)
    root = jnp.zeros((64, 3))
    for name, m in (("full", full), ("coarse", coarse)):
        posed(m, ph, R, root).vertices.block_until_ready()
        t = median_seconds(lambda m=m: posed(m, ph, R, root).vertices.block_until_ready(),
                         args.repeats)  # fmt: skip
        results[f"pose_ms_per_body_{name}"] = 1000 * t / 64
        print(f"pose the {name} mesh, batch 64: {1000 * t / 64:.2f} ms per body")
    r = fit(targets[:64], valid[:64])
    fitted = meshes(coarse, r.phenotype, r.pose, r.root)
    aa = np.stack([Rotation.from_matrix(q[1]).as_rotvec() for q in params[:64]])
    shape, root, face = (np.stack([q[k] for q in params[:64]]) for k in (0, 2, 3))
    truth = meshes(coarse, shape, aa, root, face)
    e, pa = vertex_errors(fitted, truth, r.keypoints[:, 0], targets[:64, 0])
    results["fit_floor_mpvpe_mm"], results["fit_floor_pa_mpvpe_mm"] = (
        float(e.mean()),
        float(pa.mean()),
    )
    print(f"fit to true joints (64 bodies): MPVPE {e.mean():.1f} mm, PA-MPVPE {pa.mean():.1f} mm")
    for name in ("h36m17", "coco_wholebody133", "interhand42"):
        path = args.out / f"floor_{name}.h5"
        args.out.mkdir(parents=True, exist_ok=True)
        write_split(path, ["S9"], poses=1, crop_res=32, seed=0, workers=1, args={},
                    body="anny", skeleton=name)  # fmt: skip
        with h5py.File(path, "r") as f:
            idx = np.linspace(0, len(f["image"]) - 1, 60).astype(int)
            joints, valid = f["joints_cam"][idx], f["valid_3d"][idx]
        truth = true_meshes(path, idx, coarse)
        fitted = fitted_meshes(make_fitter(full, name), coarse, joints, valid)
        parts = mesh_parts(coarse, SKELETONS[name])
        e, pa = part_errors(fitted, truth, joints, joints, valid, parts)
        results[f"fit_floor_{name}_mpvpe_mm"] = float(e.mean())
        print(f"fit floor, {name} (60 samples): MPVPE {e.mean():.1f} mm, PA-MPVPE {pa.mean():.1f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "body.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
