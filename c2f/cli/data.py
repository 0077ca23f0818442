"""``c2f data SOURCE ...``: every converter to c2f's dataset format, by name.

``SOURCES`` is the table (name -> module with ``main(argv)``, one line of help); each
converter is also ``python -m MODULE``. Formats and conventions: docs/data.md.
"""

import sys

from c2f.cli import dispatch, table_lines

SOURCES = {
    "synthetic": ("data_prep.synthetic.__main__", "the embedded Human3.6M-shaped synthetic set"),
    "clip": ("data_prep.synthetic.clip", "a rendered synthetic walking clip with ground truth"),
    "h36m": ("data_prep.h36m.__main__", "the Human3.6M release (videos, CDF poses, metadata)"),
    "c2f-annot": ("data_prep.c2f_annot", "the authors' Human3.6M annotation files (.h5)"),
    "mpii": ("data_prep.mpii", "MPII Human Pose (2D only), .mat or JSON"),
    "coco": ("data_prep.coco", "COCO person keypoints (2D only)"),
    "interhand": ("data_prep.interhand", "InterHand2.6M (two hands, 42 joints, 3D)"),
    "coco-wholebody": ("data_prep.coco_wholebody", "COCO-WholeBody (2D only, 133 keypoints)"),
    "h3wb": ("data_prep.h3wb", "H3WB whole-body 3D (133 keypoints) on your Human3.6M frames"),
    "mpi-inf-3dhp": ("data_prep.mpi_inf_3dhp", "MPI-INF-3DHP test set, training sequences, .npz"),
    "stills": ("data_prep.synthetic.stills", "a dataset file's images as JPEG files"),
    "strip-3d": ("data_prep.strip_3d", "keep some actions of a file as 2D-only samples"),
    "torch7": ("data_prep.torch7.__main__", "the authors' trained Torch7 network as a c2f run"),
}


def usage() -> str:
    return "usage: c2f data SOURCE [ARGS...]   (c2f data SOURCE --help)\n\nsources:\n" + (
        table_lines(SOURCES)
    )


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    source, rest = argv[0], argv[1:]
    if source not in SOURCES:
        print(f"c2f data: unknown source {source!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return dispatch(SOURCES, source, rest, f"c2f data {source}")
