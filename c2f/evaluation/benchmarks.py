"""Benchmarks as values: which protocol, which joints, which alignment, which rows.

A data file names its benchmark (schema version 3; earlier files by their source:
``mpi_inf_3dhp`` files are ``mpi-inf-3dhp``, the rest ``h36m``) and ``c2f eval`` dispatches on
it: the benchmark's protocol unless ``--protocol`` names another, its rows beside the
per-action tables, its published numbers where the protocol has them. ``BENCHMARKS`` is the
extension point: adding one is one entry.

* ``h36m``: Human3.6M's Protocol 1 and 2 per action under the run's protocol
  (:mod:`c2f.evaluation.protocols`: ``paper``, ``p1-gt-root``, ``p2-s11``), the paper's table.
* ``mpi-inf-3dhp``: PCK3D at 150 mm and AUC on 14 joints per sequence and scene
  (:mod:`c2f.evaluation.mpi_inf_3dhp`).
* ``interhand2.6m`` (Moon et al. 2020): MPJPE of single-hand and interacting-hand frames after
  aligning each hand at its own wrist, over the annotated joints; MRRPE, the error of the
  right-to-left wrist vector (left wrist minus right wrist, camera frame) on interacting frames
  where both wrists are annotated.
* ``h3wb`` (Zhu et al. 2023, whole body): MPJPE over all 133 keypoints and over the body
  (body and feet, their keypoints 1-23), face (24-91) and hands (92-133) with the whole body
  aligned at the pelvis (the hips' mid-point); the face aligned at the nose (keypoint 1); each
  hand at its wrist (92 and 113).
"""

import dataclasses

import numpy as np

from c2f.evaluation import mpi_inf_3dhp


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark (see the module docstring).

    Attributes:
      name: the registry name, as data files state it.
      description: one line for help texts and the report.
      protocol: the protocol it is evaluated under by default (None: the run's own).
      rows: ``rows(result, columns, source, skeleton) -> {row name: {column: value}}``, the
        benchmark's rows beside the per-action tables, or None.
    """

    name: str
    description: str
    protocol: str | None
    rows: object = None


def aligned_errors(pred, gt, joints, anchor) -> np.ndarray:
    """[N, J, 3] x 2 -> [N, len(joints)] distances after aligning both at ``anchor``'s mean.

    Translation-invariant: root-relative or camera-frame joints give the same errors.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    a, j = list(anchor), list(joints)
    p = pred[:, j] - pred[:, a].mean(1, keepdims=True)
    g = gt[:, j] - gt[:, a].mean(1, keepdims=True)
    return np.linalg.norm(p - g, axis=-1)


def _masked_sample_means(errors, valid) -> np.ndarray:
    """[N, K] errors, [N, K] valid -> [N] mean over the valid ones (NaN where none)."""
    weight = valid.astype(np.float64)
    total = weight.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (errors * weight).sum(1) / total, np.nan)


def _mean(values) -> float:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def interhand_rows(result, columns, source, skeleton) -> dict:
    """InterHand2.6M's rows: MPJPE (single, interacting, all) and MRRPE (interacting)."""
    names = [source.action_names[int(a)] for a in columns["action"]]
    valid = np.asarray(result["valid_3d"], bool)
    pred, gt = result["pred_mm"], result["joints_rel_mm"]
    per_part = np.zeros(valid.shape)
    for part, root in zip(skeleton.parts, skeleton.roots):
        per_part[:, list(part)] = aligned_errors(pred, gt, part, [root])
    mpjpe = _masked_sample_means(per_part, valid)
    kind = np.array(["interacting" if n == "interacting" else "single" for n in names])
    row = {k: _mean(mpjpe[kind == k]) for k in ("single", "interacting") if np.any(kind == k)}
    row["All"] = _mean(mpjpe)
    rows = {"MPJPE (mm), each hand at its wrist": row}
    right, left = skeleton.roots
    both = (kind == "interacting") & valid[:, right] & valid[:, left]
    if both.any():
        p, g = result["joints_mm"], result["joints_cam"]
        vec_p, vec_g = p[:, left] - p[:, right], g[:, left] - g[:, right]
        mrrpe = np.linalg.norm(vec_p - vec_g, axis=-1)[both]
        rows["MRRPE (mm), right-to-left wrist"] = {"interacting": _mean(mrrpe)}
    return rows


def wholebody_rows(result, columns, source, skeleton) -> dict:
    """H3WB's rows: MPJPE all/body/face/hands at the pelvis; face at the nose; hands at wrists."""
    pred, gt = result["pred_mm"], result["joints_rel_mm"]
    valid = np.asarray(result["valid_3d"], bool)
    pelvis = skeleton.alignment[0]
    body = skeleton.subset("body") + skeleton.subset("feet")
    face = skeleton.subset("face")
    left, right = skeleton.subset("left_hand"), skeleton.subset("right_hand")
    parts = {"All": tuple(range(skeleton.num_joints)), "body": body, "face": face,
             "hands": left + right}  # fmt: skip

    def mpjpe(joints, anchor):
        return _mean(_masked_sample_means(aligned_errors(pred, gt, joints, anchor),
                                          valid[:, list(joints)]))  # fmt: skip

    rows = {"MPJPE (mm), pelvis-aligned": {k: mpjpe(j, pelvis) for k, j in parts.items()}}
    nose = (skeleton.joint_names.index("nose"),)
    hands = np.concatenate(
        [aligned_errors(pred, gt, hand, hand[:1]) for hand in (left, right)], axis=1
    )
    rows["MPJPE (mm), part-aligned"] = {
        "face": mpjpe(face, nose),
        "hands": _mean(_masked_sample_means(hands, valid[:, list(left + right)])),
    }
    return rows


def mpi_inf_3dhp_rows(result, columns, source, skeleton) -> dict:
    """MPI-INF-3DHP's PCK3D, AUC and 14-joint MPJPE per sequence and scene."""
    return mpi_inf_3dhp.evaluation_rows(result["pred_mm"], result["joints_rel_mm"],
                                        columns["subject"], source.args.get("sequences"),
                                        skeleton=skeleton)  # fmt: skip


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("h36m", "Human3.6M: Protocol 1 and 2 per action (the run's protocol)", None),
        Benchmark(
            "mpi-inf-3dhp",
            "MPI-INF-3DHP: PCK3D@150mm and AUC, 14 joints",
            "mpi-inf-3dhp",
            mpi_inf_3dhp_rows,
        ),  # fmt: skip
        Benchmark(
            "interhand2.6m",
            "InterHand2.6M: MPJPE per hand type, MRRPE",
            "all-frames",
            interhand_rows,
        ),  # fmt: skip
        Benchmark(
            "h3wb", "H3WB whole body: MPJPE all, body, face, hands", "all-frames", wholebody_rows
        ),  # fmt: skip
    )
}


def get(name: str) -> Benchmark:
    """The benchmark called ``name``; a typo lists the names."""
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark: one of {tuple(BENCHMARKS)}, got {name!r}")
    return BENCHMARKS[name]


__all__ = ["BENCHMARKS", "Benchmark", "aligned_errors", "get", "interhand_rows",
           "wholebody_rows"]  # fmt: skip
