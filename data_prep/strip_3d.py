"""A 2D-only copy of part of a dataset: ``python -m data_prep.strip_3d``.

``--data FILE --actions A,B --out OUT`` keeps the samples of the named actions and drops their
3D (``valid_3d`` 0, ``joints_cam`` zero), as if they came from a 2D-only source such as MPII.
For experiments on what 2D data adds (README, "2D data mixed in"): the synthetic default's
held-out pose families as 2D-only training data.
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from c2f.data.schema import FIELDS, DatasetWriter, crop_res, open_dataset, read
from c2f.data.subset import action_mask
from data_prep.cli import run

ROWS = 4096


def strip(data, actions, out) -> int:
    """Write the 2D-only copy; returns the sample count."""
    with open_dataset(data) as f:
        names = json.loads(f.attrs["action_names"])
        keep = np.flatnonzero(action_mask(f["action"][...], names, actions, "--actions", data))
        if not len(keep):
            raise ValueError(f"--actions: {data} has no sample of {list(actions)}")
        args = {"data": str(data), "actions": list(actions), "of": json.loads(f.attrs["args"])}
        # The source's joint map goes with its joints (a version-1 file has none: ours).
        joint_map = {
            k: json.loads(f.attrs[k])
            for k in ("source_joint_names", "joint_sources")
            if k in f.attrs
        }
        with DatasetWriter(out, source=f"{f.attrs['source']}-2d", args=args, crop_res=crop_res(f),
                           action_names=names, camera_names=json.loads(f.attrs["camera_names"]),
                           **joint_map) as w:  # fmt: skip
            for start in range(0, len(keep), ROWS):
                rows = keep[start : start + ROWS]
                batch = {name: read(f, name, rows) for name in FIELDS}
                batch["image"] = list(batch["image"])
                batch["joints_cam"] = np.zeros_like(batch["joints_cam"])
                batch["valid_3d"] = np.zeros_like(batch["valid_3d"])
                w.append(batch)
            return w.count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=pathlib.Path, help="a c2f dataset file")
    p.add_argument("--actions", required=True, help="comma-separated action names to keep")
    p.add_argument("--out", required=True, type=pathlib.Path)

    def work(args):
        n = strip(args.data, [a for a in args.actions.split(",") if a], args.out)
        return f"wrote {n} 2D-only samples to {args.out}"

    return run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
