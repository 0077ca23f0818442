"""Convert the Human3.6M release: ``python -m data_prep.h36m --root H36M_ROOT --out DIR``.

Reads ``H36M_ROOT/metadata.xml`` (cameras, sequence file names, resolutions; the release's
code bundle ships it: pass ``--metadata`` if it lives elsewhere), the per-camera
``D3_Positions_mono`` CDF files and the videos, and writes ``DIR/train.h5`` (S1, S5, S6, S7,
S8) and ``DIR/test.h5`` (S9, S11) in the c2f format (docs/data.md), via one part file per
sequence under ``DIR/parts``. Re-running resumes: finished parts are kept. Bad sequences are
skipped and listed in the end-of-run summary (also ``DIR/summary.json``).
"""

import argparse
import collections
import json
import multiprocessing as mp
import os
import pathlib
import sys
import time

from tqdm import tqdm

from c2f.data.schema import FIELDS, DatasetWriter, open_dataset, read
from c2f.h36m import CAMERAS, TEST_SUBJECTS, TRAIN_SUBJECTS, canonical_action
from data_prep.h36m.convert import Job, convert
from data_prep.h36m.metadata import KNOWN_BAD, MetadataError, parse_metadata


def make_jobs(args, meta) -> list[Job]:
    jobs = []
    for subject in args.subjects:
        if subject not in meta["sequences"]:
            raise SystemExit(f"--subjects: {subject} is not in metadata.xml")
        for seq in meta["sequences"][subject]:
            if seq["action_id"] == 1:  # "_ALL" (Miscellaneous) is not part of any protocol
                continue
            for cam in CAMERAS:
                jobs.append(
                    Job(
                        root=str(args.root),
                        out=str(args.out),
                        subject=subject,
                        action_id=seq["action_id"],
                        action=seq["action"],
                        subaction=seq["subaction_id"],
                        prefix=seq["file_prefix"],
                        camera=cam,
                        camera_params=meta["cameras"][subject][cam],
                        step=(args.test_frame_step or args.step)
                        if subject in TEST_SUBJECTS
                        else args.step,
                        also_every=args.also_every if subject in TEST_SUBJECTS else 0,
                        crop_res=args.crop_res,
                        quality=args.quality,
                    )
                )
    return jobs


def merge(parts: list[pathlib.Path], path: pathlib.Path, args) -> int:
    """Concatenate part files into one split file (atomically)."""
    with DatasetWriter(path, source="h36m", args=vars(args), crop_res=args.crop_res) as w:
        for part in tqdm(parts, desc=f"merge {path.name}", unit="seq"):
            with open_dataset(part) as f:
                w.append({name: read(f, name) for name in FIELDS})
        return w.count


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, type=pathlib.Path, help="folder with S1, S5, ...")
    p.add_argument("--out", required=True, type=pathlib.Path)
    p.add_argument("--metadata", type=pathlib.Path, help="default: ROOT/metadata.xml")
    p.add_argument("--subjects", nargs="+", default=list(TRAIN_SUBJECTS + TEST_SUBJECTS))
    p.add_argument("--step", type=int, default=5, help="keep every STEP-th frame (5 as usual)")
    p.add_argument(
        "--also-every", type=int, default=0, metavar="N",
        help="test subjects: also keep frames that are multiples of N (64 for protocol p2-s11)",
    )  # fmt: skip
    p.add_argument(
        "--test-frame-step", type=int, default=0, metavar="N",
        help="test subjects: keep every N-th frame instead of --step's (1: consecutive frames, "
        "for velocity and acceleration errors; evaluate with eval.py --all-frames)",
    )  # fmt: skip
    p.add_argument("--crop-res", type=int, default=384, help="stored crop side, px")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    p.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    args = p.parse_args(argv)
    if not args.root.is_dir():
        p.error(f"--root: {args.root} is not a folder")
    if args.step < 1:
        p.error("--step must be >= 1")
    if args.test_frame_step < 0:
        p.error("--test-frame-step must be >= 1 (0: as --step)")
    if args.also_every < 0:
        p.error("--also-every must be >= 0")
    problem = output_problem(args.out)
    if problem:  # before hours of conversion, not after
        p.error(f"--out: {problem}")
    try:
        meta = parse_metadata(args.metadata or args.root / "metadata.xml")
    except MetadataError as e:
        p.error(str(e))
    jobs = make_jobs(args, meta)
    start = time.time()
    results = []
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for r in tqdm(pool.imap_unordered(convert, jobs), total=len(jobs), unit="seq"):
            results.append(r)
    summary = summarise(results, time.time() - start)
    for split, subjects in (("train", TRAIN_SUBJECTS), ("test", TEST_SUBJECTS)):
        parts = sorted(
            r.job.part_path for r in results
            if r.status in ("done", "skipped") and r.job.subject in subjects
        )  # fmt: skip
        if parts:
            summary["files"][split] = merge(parts, args.out / f"{split}.h5", args)
    print_summary(summary)  # first: the per-sequence failures survive a failed write below
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


def output_problem(out: pathlib.Path) -> str | None:
    """Why ``out`` cannot receive the converted files (None when it can)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"{out} is not a writable folder ({e.strerror or e})"
    return None


def summarise(results, seconds: float) -> dict:
    frames = collections.defaultdict(lambda: collections.defaultdict(int))
    bad, mismatched = [], []
    converted = 0
    for r in results:
        j = r.job
        key = (j.subject, canonical_action(j.action), j.subaction, j.camera)
        if r.status == "bad":
            bad.append({"sequence": f"{j.subject}/{j.prefix}.{j.camera}", "reason": r.reason,
                        "known": KNOWN_BAD.get(key, "")})  # fmt: skip
            continue
        if r.status == "done":
            converted += r.frames
            frames[j.subject][canonical_action(j.action)] += r.frames
        if r.length_mismatch:
            mismatched.append({"sequence": f"{j.subject}/{j.prefix}.{j.camera}",
                               "cdf_minus_video_frames": r.length_mismatch})  # fmt: skip
    return {
        "seconds": round(seconds, 1),
        "frames_converted_this_run": converted,
        "frames_per_second": round(converted / max(seconds, 1e-9), 1),
        "sequences": {
            s: sum(1 for r in results if r.status == s) for s in ("done", "skipped", "bad")
        },
        "frames_per_subject_action": {s: dict(a) for s, a in frames.items()},
        "bad_sequences": bad,
        "length_mismatches": mismatched,
        "files": {},
    }


def print_summary(summary: dict) -> None:
    seq = summary["sequences"]
    print(f"sequences: {seq['done']} converted, {seq['skipped']} already done, {seq['bad']} bad")
    print(f"frames this run: {summary['frames_converted_this_run']} "
          f"({summary['frames_per_second']} frames/s)")  # fmt: skip
    for subject, actions in sorted(summary["frames_per_subject_action"].items()):
        print(f"  {subject}: " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())))
    for b in summary["bad_sequences"]:
        known = f" [known: {b['known']}]" if b["known"] else ""
        print(f"  BAD {b['sequence']}: {b['reason']}{known}")
    if summary["length_mismatches"]:
        print(f"  {len(summary['length_mismatches'])} sequences with CDF/video length mismatch "
              "(the shorter was used; see summary.json)")  # fmt: skip
    for split, n in summary["files"].items():
        print(f"  {split}.h5: {n} samples")


if __name__ == "__main__":
    sys.exit(main())
