"""Parser of the Human3.6M release's ``metadata.xml``: cameras, sequences and resolutions.

* ``<w0>``: 300 numbers. For camera c (0..3) and subject s (1..11), 6 extrinsics at
  ``(c * 11 + s - 1) * 6``: three rotation angles (a, b, g) with ``R = Rx(a) Ry(b) Rz(g)``
  (world to camera) and the camera centre t (world mm). Then, from 264, 9 intrinsics per
  camera: f (2), c (2), k (3), p (2).
* ``<mapping>``: a header row, one row per (action, sub-action) with each subject's file
  prefix, then a second header (subject names) and a row of video resolutions per subject,
  ``[h w; h w; h w; h w]`` for the 4 cameras.
* ``<frames>``: one row per subject, one cell per (action, sub-action) after an empty first
  cell: ``[n1 n2 n3 n4 mocap]``, the 4 cameras' video frame counts and the mocap's.
* ``<actionnames>``: action names, 1-based ids; ``<dbcameras><index2id>``: camera ids.
"""

import pathlib
import re

import numpy as np

from c2f.h36m import canonical_action


class MetadataError(ValueError):
    """``metadata.xml`` is missing a section or is malformed."""


def _section(xml: str, tag: str, path) -> str:
    m = re.search(rf"<{tag}>(.*?)</{tag}>", xml, re.S)
    if m is None:
        raise MetadataError(f"{path}: no <{tag}> section")
    return m.group(1)


def _rows(table: str) -> list[list[str]]:
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<td>(.*?)</td>|<td/>", tr, re.S)
        rows.append([c.strip() for c in cells])
    return rows


def _numbers(text: str) -> np.ndarray:
    return np.array(text.replace("[", " ").replace("]", " ").replace(";", " ").split(), float)


def _rotation(a: float, b: float, g: float) -> np.ndarray:
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cg, -sg, 0], [sg, cg, 0], [0, 0, 1]])
    return rx @ ry @ rz


def parse_metadata(path) -> dict:
    """Parse ``metadata.xml``.

    Returns:
      dict with ``cameras``: {subject: {camera id: {R, t, f, c, k, p, res_w, res_h}}} for all
      11 subjects (lists, h36m_cameras.json's layout); ``sequences``: {subject: [{action_id,
      subaction_id, action, file_prefix, frames_per_camera, mocap_frames}]} in the file's order
      (h36m_sequences.json's layout); ``camera_ids``; ``action_names``.

    Raises:
      MetadataError: naming the file and the section that is missing or malformed.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise MetadataError(f"{path}: no such file (expected the release's metadata.xml)")
    xml = path.read_text(errors="replace")
    camera_ids = re.findall(r"<item>\s*(\d+)\s*</item>", _section(xml, "index2id", path))
    actions = re.findall(r"<item>(.*?)</item>", _section(xml, "actionnames", path))
    w0 = _numbers(_section(xml, "w0", path))
    if len(camera_ids) != 4 or w0.size != 300:
        raise MetadataError(f"{path}: expected 4 cameras and 300 numbers in <w0>, got "
                            f"{len(camera_ids)} and {w0.size}")  # fmt: skip
    mapping = _rows(_section(xml, "mapping", path))
    frames = _rows(_section(xml, "frames", path))
    header = mapping[0]
    subjects = header[2:]
    second_header = next(i for i, r in enumerate(mapping[1:], 1) if r[0] == "Action")
    sequence_rows = mapping[1:second_header]
    resolution_row = mapping[second_header + 1]
    if len(frames) != len(subjects) or any(len(r) != len(sequence_rows) + 1 for r in frames):
        raise MetadataError(
            f"{path}: <frames> is not {len(subjects)} subjects x {len(sequence_rows)} sequences"
        )

    cameras: dict = {}
    for s_idx, subject in enumerate(subjects):
        res = _numbers(resolution_row[2 + s_idx]).reshape(4, 2)  # [h, w] per camera
        cameras[subject] = {}
        for c_idx, cam_id in enumerate(camera_ids):
            off = (c_idx * 11 + s_idx) * 6
            intr = w0[264 + 9 * c_idx : 264 + 9 * (c_idx + 1)]
            R = _rotation(*w0[off : off + 3])
            cameras[subject][cam_id] = {
                "R": R.tolist(),
                "t": w0[off + 3 : off + 6].tolist(),
                "f": intr[0:2].tolist(),
                "c": intr[2:4].tolist(),
                "k": intr[4:7].tolist(),
                "p": intr[7:9].tolist(),
                "res_w": int(res[c_idx, 1]),
                "res_h": int(res[c_idx, 0]),
            }
    sequences: dict = {s: [] for s in subjects}
    for q, row in enumerate(sequence_rows):
        action_id, sub_id = int(row[0]), int(row[1])
        for s_idx, subject in enumerate(subjects):
            n = _numbers(frames[s_idx][1 + q]).astype(int)
            sequences[subject].append(
                {
                    "action_id": action_id,
                    "subaction_id": sub_id,
                    "action": actions[action_id - 1],
                    "file_prefix": row[2 + s_idx],
                    "frames_per_camera": dict(zip(camera_ids, n[:4].tolist())),
                    "mocap_frames": int(n[4]),
                }
            )
    return {"cameras": cameras, "sequences": sequences, "camera_ids": camera_ids,
            "action_names": actions}  # fmt: skip


# Sequences of the release that cannot be converted: (subject, action, subaction, camera).
KNOWN_BAD = {("S11", "Directions", 2, "54138969"): "the release's video is corrupt"}


def protocol_frame_count(sequences: dict, subjects=("S9", "S11"), step: int = 5) -> int:
    """Images in the usual test list: every ``step``-th frame of each sequence's pose data.

    A sequence's pose data (its D3 CDFs) holds ``mocap_frames // 4`` frames (the 200 Hz motion
    capture at the video's 50 Hz), often fewer than its video; the "_ALL" sequences (action 1)
    and :data:`KNOWN_BAD` are left out. For S9 and S11 at step 5 this is the authors' 109,867
    images (c2f-vol-train README, ``-validIters 109867``); counting video frames instead gives
    114,872.

    Args:
      sequences: :func:`parse_metadata`'s ``sequences``.
      subjects: subjects to count.
      step: keep every ``step``-th frame, starting at the first.
    """
    total = 0
    for subject in subjects:
        for seq in sequences[subject]:
            if seq["action_id"] == 1:
                continue
            frames = seq["mocap_frames"] // 4
            for camera in seq["frames_per_camera"]:
                key = (subject, canonical_action(seq["action"]), seq["subaction_id"], camera)
                if key not in KNOWN_BAD:
                    total += -(-frames // step)
    return total
