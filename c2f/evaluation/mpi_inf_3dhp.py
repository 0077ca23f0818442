"""MPI-INF-3DHP's benchmark numbers: PCK3D at 150 mm and AUC over its 14 joints, per sequence.

Mehta et al. 2017's protocol (their test code's joint groups): after aligning the root
(pelvis), a joint is correct within 150 mm; AUC is the mean PCK over thresholds 0, 5, ...,
150 mm; both over 14 joints (head top, neck, shoulders, elbows, wrists, hips, knees, ankles),
not the pelvis, spine or head centre. Reported per test sequence, per scene (TS1-2 green
screen "GS", TS3-4 without "noGS", TS5-6 outdoor) and over all frames, in percent, beside the
MPJPE over the same joints.
"""

import numpy as np

from c2f.evaluation import metrics
from c2f.skeleton import H36M17

# The h36m17 indices of 3DHP's 14 evaluated joints (its "neck" is our thorax): the skeleton's
# subset, which files converted by data_prep.mpi_inf_3dhp are in.
EVAL_SUBSET = "mpi_inf_3dhp14"
EVAL_JOINTS = H36M17.subset(EVAL_SUBSET)
SCENES = {"GS": (1, 2), "noGS": (3, 4), "Outdoor": (5, 6)}


def evaluation_rows(pred, gt, subjects, sequences: str | None = "TS", *, skeleton) -> dict:
    """The benchmark's rows for an evaluation's table.

    Args:
      pred: [N, 17, 3] predicted joints, mm (any root).
      gt: [N, 17, 3] ground truth, mm.
      subjects: [N] sequence numbers (n of ``TS{n}`` or ``S{n}``).
      sequences: "TS" (the test set: scene columns too; also None) or "S" (training
        sequences).
      skeleton: the file's keypoint set; it must have the ``mpi_inf_3dhp14`` subset (h36m17,
        which the converter writes, does).

    Returns:
      ``{"PCK3D@150mm (%)": row, "AUC (%)": row, "MPJPE, 14 joints (mm)": row}``, each row
      ``{column: value}`` with a column per sequence, per scene present and ``All``.
    """
    sequences = sequences or "TS"
    subjects = np.asarray(subjects)
    joints = skeleton.subset(EVAL_SUBSET)
    kw = {"skeleton": skeleton, "joints": joints}
    values = {
        "PCK3D@150mm (%)": 100 * np.asarray(metrics.pck3d(pred, gt, 150.0, **kw)),
        "AUC (%)": 100 * np.asarray(metrics.auc3d(pred, gt, 150.0, 5.0, **kw)),
        "MPJPE, 14 joints (mm)": np.asarray(metrics.mpjpe(pred, gt, **kw)),
    }
    groups = {f"{sequences}{n}": subjects == n for n in sorted(set(subjects.tolist()))}
    if sequences == "TS":
        for scene, members in SCENES.items():
            mask = np.isin(subjects, members)
            if mask.any():
                groups[scene] = mask
    groups["All"] = np.ones(len(subjects), bool)
    return {name: {g: float(v[m].mean()) for g, m in groups.items()} for name, v in values.items()}
