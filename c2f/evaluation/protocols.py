"""Evaluation protocols as named presets: which samples, how decoded, which root, which average.

* ``paper``: the authors' own protocol (geopavlakos/c2f-vol-demo). Subjects S9 and S11, every
  5th frame (their ``valid_images.txt``, 109,867 images); flip test by averaging the volume of
  the image and the mirrored volume of its mirror (``main.lua`` lines 57-61); plain argmax at
  voxel centres (``getPreds3D``; ``maxLocation.m`` maps cell p to its centre); root depth
  from the training subjects' mean bone lengths (``evalH36M.m`` recType 3,
  ``estimate3D.m``); MPJPE after root alignment, averaged over all frames (``errorH36M.m``
  prints ``mean(cell2mat(E3D_all))``). The paper's Table (71.9 mm) stands beside ours.
* ``p1-gt-root``: Protocol 1 as most later papers report it: S9 and S11, every 5th frame,
  the ground-truth root depth, the run's decoding, MPJPE averaged per action then over the
  15 actions.
* ``p2-s11``: the integral-regression / 3DMPPE Protocol 2: PA-MPJPE on S11 only, every 64th
  frame (convert the test subjects with ``data_prep.h36m --also-every 64`` to have them),
  ground-truth root, the run's decoding, averaged over actions.
* ``all-frames``: every frame of the file, the ground-truth root depth, the run's decoding,
  MPJPE averaged over frames: the protocol of the InterHand2.6M and H3WB benchmarks
  (:mod:`c2f.evaluation.benchmarks`), whose rows hold their own numbers.
* ``mpi-inf-3dhp``: MPI-INF-3DHP's PCK3D and AUC (:mod:`c2f.evaluation.mpi_inf_3dhp`) on every
  frame of a file from ``data_prep.mpi_inf_3dhp``; chosen by ``eval.py`` for such files.

A protocol narrows the samples of a test file with :func:`select` and fixes the options of the
evaluation step; ``definition`` is printed above every table.
"""

import dataclasses

import numpy as np

from c2f.h36m import ACTIONS
from c2f.volume import check_decode

# Pavlakos et al. 2017, Table (Human3.6M, Protocol 1, MPJPE in mm). Their average, 71.9, is
# over frames (c2f-vol-demo errorH36M.m: mean(cell2mat(E3D_all))): it goes in the "Weighted"
# column; the mean of the 15 published per-action numbers is 71.5.
_PAPER_ACTIONS_MM = (67.4, 71.9, 66.7, 69.1, 72.0, 77.0, 65.0, 68.3, 83.7, 96.5, 71.7, 65.8,
                     74.9, 59.1, 63.2)  # fmt: skip
PAPER_P1_MM = {
    **dict(zip(ACTIONS, _PAPER_ACTIONS_MM)),
    "Avg": round(sum(_PAPER_ACTIONS_MM) / len(_PAPER_ACTIONS_MM), 1),
    "Weighted": 71.9,
}


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (see the module docstring).

    Attributes:
      name: the preset's name.
      definition: one paragraph printed above the table.
      subjects: test subjects (numbers n of "S<n>") to keep; empty: every subject.
      frame_every: keep samples whose 0-based frame index is a multiple of this.
      decode: "soft", "hard" (refined argmax), "argmax" (voxel centres) or None: the run's.
      flip: "none", "coords" (average decoded coordinates) or "volumes" (average volumes).
      root: "gt" (ground-truth root depth) or "bones" (from mean training bone lengths).
      metric: "mpjpe" or "pa_mpjpe": the headline.
      average: "frames" (mean over all samples) or "actions" (mean of per-action means).
      published: the paper's numbers for exactly this protocol, or None.
    """

    name: str
    definition: str
    subjects: tuple[int, ...] = (9, 11)
    frame_every: int = 5
    decode: str | None = None
    flip: str = "none"
    root: str = "gt"
    metric: str = "mpjpe"
    average: str = "actions"
    published: dict | None = None

    def decoding(self, run_decode: str) -> str:
        return check_decode(self.decode or run_decode)


PROTOCOLS = {
    "paper": Protocol(
        name="paper",
        definition=(
            "Protocol 'paper' (Pavlakos et al. 2017, the authors' c2f-vol-demo): S9 and S11, "
            "every 5th frame; flip test averaging volumes; plain argmax at voxel centres; root "
            "depth from the training subjects' mean bone lengths; MPJPE (mm) after root "
            "alignment; headline = mean over all frames."
        ),
        decode="argmax",
        flip="volumes",
        root="bones",
        average="frames",
        published=PAPER_P1_MM,
    ),
    "p1-gt-root": Protocol(
        name="p1-gt-root",
        definition=(
            "Protocol 'p1-gt-root' (Protocol 1 of most later papers): S9 and S11, every 5th "
            "frame; ground-truth root depth; the run's decoding; MPJPE (mm) after root "
            "alignment; headline = mean of the 15 per-action means."
        ),
    ),
    "p2-s11": Protocol(
        name="p2-s11",
        definition=(
            "Protocol 'p2-s11' (Protocol 2 of Sun et al. 2018 / Moon et al. 2019): S11 only, "
            "every 64th frame; ground-truth root depth; the run's decoding; PA-MPJPE (mm, "
            "similarity Procrustes); headline = mean of the per-action means."
        ),
        subjects=(11,),
        frame_every=64,
        metric="pa_mpjpe",
    ),
    "all-frames": Protocol(
        name="all-frames",
        definition=(
            "Protocol 'all-frames': every frame of the file; ground-truth root depth (per "
            "part); the run's decoding; MPJPE (mm) after aligning each part at its root, over "
            "the joints with ground truth; headline = mean over all frames."
        ),
        subjects=(),
        frame_every=1,
        average="frames",
    ),
    "mpi-inf-3dhp": Protocol(
        name="mpi-inf-3dhp",
        definition=(
            "Protocol 'mpi-inf-3dhp' (Mehta et al. 2017): every frame of the file (the "
            "converter keeps the test set's valid frames); ground-truth root depth; the run's "
            "decoding; PCK3D at 150 mm and AUC over 0-150 mm on 14 joints after root "
            "alignment (c2f.evaluation.mpi_inf_3dhp), per sequence and scene; MPJPE (mm) per "
            "activity, headline = mean over all frames."
        ),
        subjects=(),
        frame_every=1,
        average="frames",
    ),
}


def get(name: str) -> Protocol:
    """The preset called ``name``; a typo is an error listing the names."""
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: one of {tuple(PROTOCOLS)}, got {name!r}")
    return PROTOCOLS[name]


def select(protocol: Protocol, subject, frame, path: str = "test file") -> np.ndarray:
    """Indices of the samples the protocol evaluates, in file order.

    Args:
      protocol: the preset.
      subject: [N] subject numbers of the file's samples.
      frame: [N] 0-based frame indices.
      path: named in the error.

    Raises:
      ValueError: when no sample qualifies, naming the file and what was looked for.
    """
    subject, frame = np.asarray(subject), np.asarray(frame)
    chosen = np.isin(subject, protocol.subjects) if protocol.subjects else subject >= 0
    keep = chosen & (frame % protocol.frame_every == 0)
    indices = np.flatnonzero(keep)
    if not len(indices):
        subjects = ", ".join(f"S{s}" for s in protocol.subjects)
        raise ValueError(
            f"protocol {protocol.name!r}: {path} has no sample of {subjects} whose frame is a "
            f"multiple of {protocol.frame_every} (its subjects: "
            f"{sorted({f'S{s}' for s in np.unique(subject)})})"
        )
    return indices


def headline(table, protocol: Protocol) -> float:
    """The protocol's single number from a :class:`c2f.evaluation.metrics.ActionTable`."""
    return table.weighted if protocol.average == "frames" else table.mean_over_actions
