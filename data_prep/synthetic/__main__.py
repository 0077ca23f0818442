"""Write the synthetic Human3.6M-shaped dataset: ``python -m data_prep.synthetic --out DIR``.

Produces ``DIR/train.h5`` (S1, S5, S6, S7, S8) and ``DIR/test.h5`` (S9, S11) in the c2f
format (docs/data.md), and with ``--preview`` a PNG grid of samples with their ground-truth
skeletons. Deterministic from ``--seed``; parallel over sequences with ``--workers``. Each
sequence is one continuous 50 fps motion (``data_prep/synthetic/motion.py``), stored every 5th
frame for training and at consecutive frames for the test subjects (so that velocity and
acceleration errors are defined); ``--independent`` draws independent poses instead (the
default before motion). ``--spread`` widens every action's pose family towards the joint
limits (``data_prep/synthetic/poses.py``). ``--body`` draws people as the anny body model (the
default: ``data_prep/synthetic/body_render.py``) or as the capsules of before.
"""

import argparse
import multiprocessing as mp
import pathlib
import sys
import time

from c2f.body import AssetError, check_available
from c2f.body.keypoints import BODY_KEYPOINTS
from c2f.data.schema import INCOMPLETE_MARKER
from c2f.h36m import CAMERAS, TEST_SUBJECTS, TRAIN_SUBJECTS
from c2f.outputs import OutputError, add_overwrite, check_output_folder, check_outputs
from data_prep.synthetic.generate import BODIES, preview, write_split

SPLITS = ("train", "test", "train_seq")
SEQ_CAMERAS = 2  # train_seq.h5: the first two cameras of each subject
SEQ_SEED_OFFSET = 7919  # train_seq.h5's motions and people: a seed of their own


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--train-poses", type=int, default=12, help="frames per train sequence")
    p.add_argument("--test-poses", type=int, default=50, help="frames per test sequence")
    p.add_argument("--crop-res", type=int, default=256, help="stored crop side, px")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    p.add_argument("--preview", action="store_true", help="also write preview.png")
    p.add_argument(
        "--independent",
        action="store_true",
        help="independent poses per frame instead of one continuous motion per sequence",
    )
    p.add_argument(
        "--train-frame-step",
        type=int,
        default=5,
        help="stored 50 fps frame step of the training subjects (5 as usual)",
    )
    p.add_argument(
        "--test-frame-step",
        type=int,
        default=1,
        help="stored 50 fps frame step of the test subjects (1: consecutive)",
    )
    p.add_argument(
        "--spread",
        type=float,
        default=0.25,
        help="0: the action families' own angle ranges; 1: anything within the joint limits",
    )
    p.add_argument(
        "--body",
        choices=BODIES,
        default=BODIES[0],
        help="people as the anny body model (rendered meshes with hands and faces; their "
        "shape and pose parameters are stored) or as shaded capsules (the default before)",
    )
    p.add_argument(
        "--skeleton",
        choices=tuple(BODY_KEYPOINTS),
        default="h36m17",
        help="the keypoints written (bodies only); hand sets get one crop per hand, at the "
        "hand's scale",
    )
    p.add_argument(
        "--train-seq-poses",
        type=int,
        default=0,
        help="also write train_seq.h5: the training subjects' consecutive 50 fps frames, this "
        f"many per sequence, from {SEQ_CAMERAS} cameras (what c2f train-temporal learns from); "
        "0: not written",
    )
    p.add_argument("--splits", nargs="+", choices=SPLITS,
                   help="the splits to write (default: train and test, and train_seq with "
                   "--train-seq-poses); the others in --out are left as they are")  # fmt: skip
    add_overwrite(p)
    args = p.parse_args(argv)
    if args.body == "capsules" and args.skeleton != "h36m17":
        p.error("--skeleton: the capsules have Human3.6M's 17 joints only (use --body anny)")
    if args.train_poses < 1 or args.test_poses < 1 or args.crop_res < 32:
        p.error("--train-poses and --test-poses must be >= 1 and --crop-res >= 32")
    if args.train_seq_poses < 0 or args.train_seq_poses == 1:
        p.error("--train-seq-poses: 0 (none) or at least 2 consecutive frames")
    if args.splits and "train_seq" in args.splits and not args.train_seq_poses:
        p.error("--splits train_seq: give its length with --train-seq-poses N")
    if args.train_frame_step < 1 or args.test_frame_step < 1:
        p.error("--train-frame-step and --test-frame-step must be >= 1")
    if not 0.0 <= args.spread <= 1.0:
        p.error(f"--spread must be in [0, 1], got {args.spread}")
    if args.body == "anny":
        try:
            check_available()
        except AssetError as e:
            p.error(f"--body anny: {e} (or --body capsules)")
    out = pathlib.Path(args.out)
    four = len(CAMERAS)
    splits = [
        ("train", TRAIN_SUBJECTS, args.train_poses, args.train_frame_step, four, 0),
        ("test", TEST_SUBJECTS, args.test_poses, args.test_frame_step, four, 0),
    ]
    if args.train_seq_poses:  # other motions than train.h5's: not the image model's own frames
        splits.append(("train_seq", TRAIN_SUBJECTS, args.train_seq_poses, 1, SEQ_CAMERAS,
                       SEQ_SEED_OFFSET))  # fmt: skip
    splits = [split for split in splits if split[0] in (args.splits or SPLITS)]
    files = {f"--out ({name}.h5)": out / f"{name}.h5" for name, *_ in splits}
    if args.preview:
        files["--out (preview.png)"] = out / "preview.png"
    try:
        check_output_folder("--out", out)
        check_outputs(files, overwrite=args.overwrite)
    except OutputError as e:
        p.error(str(e))
    start = time.time()
    total = 0
    # Both splits or a marked set: a reader refuses a folder whose writing did not finish
    # (c2f.data.schema.INCOMPLETE_MARKER), so a train.h5 never meets an older test.h5 unseen.
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    marker = out / INCOMPLETE_MARKER
    marker.write_text("c2f data synthetic was writing this dataset and did not finish\n")
    written = []
    try:
        for name, subjects, poses, step, cameras, offset in splits:
            step = 0 if args.independent and name != "train_seq" else step
            total += write_split(out / f"{name}.h5", subjects, poses, args.crop_res,
                                 args.seed + offset,
                                 args.workers, vars(args), frame_step=step,
                                 spread=args.spread, body=args.body, skeleton=args.skeleton,
                                 cameras=cameras)  # fmt: skip
            written.append(name)
    except BaseException:
        if not written:  # nothing replaced: the folder is as it was (and gone if it was new)
            marker.unlink()
            if created and not any(out.iterdir()):
                out.rmdir()
        raise
    marker.unlink()
    elapsed = time.time() - start
    print(f"wrote {total} images to {out} in {elapsed:.1f} s ({total / elapsed:.0f} images/s)")
    if args.preview:
        shown = "test" if "test" in written else written[0]
        preview(out / f"{shown}.h5", out / "preview.png")
        print(f"preview: {out / 'preview.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
