"""Input-pipeline and converter speed: ``python -m bench.data_speed [--out DIR]``.

Measures, in one run, on the synthetic dataset (generated into DIR if missing):
  * synthetic generation, images/s on one core (render + JPEG encode) at 256 px, of the body
    model (the default: posing, rasterising, lighting) and of the capsules, interleaved
    repeats of 50 frames of one walking sequence through one camera;
  * the loader, images/s per worker process (JPEG decode + the paper's augmentation + targets)
    at 256 px input, with 0 workers (in-process) and with N workers; interleaved with the
    loader of ``data.augment_on=device`` (read, decode and the joints' geometry only) and with
    the jitted warp that then runs on the device (here: this backend);
  * evaluation's examples (unaugmented, in order, as ``c2f.evaluation.evaluate`` builds them),
    examples/s with 0 and N workers;
  * the Human3.6M converter's per-frame work (crop of a full 1000 x 1002 frame + JPEG encode),
    frames/s on one core (video decoding excluded: it depends on the codec and the files).
Prints medians over repeats and writes ``DIR/data_speed.json``.
"""

import argparse
import dataclasses
import json
import pathlib
import statistics
import time

import jax
import numpy as np

from bench.kernels import small_split
from c2f.data import BatchSpec, H5Source, Loader
from c2f.geometry.resample import augment_batch
from data_prep.h36m.convert import crop_frame
from data_prep.synthetic import motion
from data_prep.synthetic.generate import body_scene, render_sample
from data_prep.synthetic.poses import sample_pose
from data_prep.synthetic.scene import subject_cameras


def _median_rate(fn, items: int, repeats: int) -> tuple[float, list[float]]:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates), rates


def _fmt(rates) -> str:
    return ", ".join(f"{r:.0f}" for r in rates)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/bench_data"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    results = {}
    rng = np.random.default_rng(0)
    cam = subject_cameras(1)["54138969"]
    poses = [sample_pose("Walking", 1, rng) for _ in range(50)]
    scene = body_scene()
    person = scene.person(1, 0)
    frames = np.arange(50) * 5
    params = motion.sequence_params("Walking", 1, frames, rng)
    scene.track(person, frames, params, rng)  # compile the posing once, outside the timing

    def bodies():
        track = scene.track(person, frames, params, rng)
        for k in range(len(frames)):

            def draw(cam, A, k=k):
                return scene.draw(person, track.vertices[k], cam, A, 256, rng)

            render_sample(track.keypoints[k], cam, 256, rng, draw=draw)

    rates = {"capsules": [], "anny": []}
    for _ in range(args.repeats):  # interleaved: the machine's drift hits both alike
        rates["capsules"].append(
            _median_rate(lambda: [render_sample(q, cam, 256, rng) for q in poses], 50, 1)[0]
        )
        rates["anny"].append(_median_rate(bodies, 50, 1)[0])  # fmt: skip
    for body, rs in rates.items():
        results[f"synthetic_{body}_images_per_s_one_core"] = statistics.median(rs)
        print(f"synthetic {body} render + JPEG @256px: {statistics.median(rs):.0f} images/s/core "
              f"(runs {_fmt(rs)})")  # fmt: skip
    results["synthetic_images_per_s_one_core"] = results["synthetic_anny_images_per_s_one_core"]

    source = H5Source(small_split(args.out, args.workers))
    spec = BatchSpec(batch_size=32, input_res=256, output_res=64)
    loader = Loader(source, spec)
    on_device = Loader(source, dataclasses.replace(spec, augment_on="device"))
    warp = jax.jit(augment_batch, static_argnums=3)
    first = on_device.batch(0)
    warp(first["crop"], first["warp"], first["colour"], 256).block_until_ready()
    rates = {"host": [], "device": [], "warp": []}
    for _ in range(args.repeats):  # interleaved
        rates["host"].append(_median_rate(lambda: [loader.batch(s) for s in range(4)], 128, 1)[0])
        rates["device"].append(
            _median_rate(lambda: [on_device.batch(s) for s in range(4)], 128, 1)[0]
        )
        rates["warp"].append(_median_rate(
            lambda: warp(first["crop"], first["warp"], first["colour"], 256).block_until_ready(),
            32, 1)[0])  # fmt: skip
    rate = statistics.median(rates["host"])
    results["loader_images_per_s_per_worker"] = rate
    print(f"loader decode + augment @256px, in-process: {rate:.0f} images/s "
          f"(runs {_fmt(rates['host'])})")  # fmt: skip
    rate = statistics.median(rates["device"])
    results["loader_device_augment_images_per_s_per_worker"] = rate
    print(f"loader with data.augment_on=device (read + decode + geometry), in-process: "
          f"{rate:.0f} images/s (runs {_fmt(rates['device'])})")  # fmt: skip
    rate = statistics.median(rates["warp"])
    results["device_warp_images_per_s_this_backend"] = rate
    print(f"  its warp + colour on {jax.default_backend()} (jitted, batch 32): {rate:.0f} "
          f"images/s (runs {_fmt(rates['warp'])})")  # fmt: skip
    steps = 8 * args.workers
    parallel = Loader(source, spec, workers=args.workers)
    it = parallel(0, steps + 2)
    next(it)  # start-up (process spawn) excluded
    start = time.perf_counter()
    for _ in range(steps):
        next(it)
    rate = steps * 32 / (time.perf_counter() - start)
    results[f"loader_images_per_s_{args.workers}_workers"] = rate
    print(f"loader with {args.workers} workers: {rate:.0f} images/s")
    per_worker = results["loader_images_per_s_per_worker"]
    print(f"  -> 16 workers would feed about {16 * per_worker:.0f} images/s (goal 1500)")

    eval_spec = BatchSpec(batch_size=32, input_res=256, output_res=64, augment=None,
                          shuffle=False)  # fmt: skip
    for workers in (0, args.workers):
        jobs = [(np.arange(i * 32, (i + 1) * 32) % len(source), 0) for i in range(steps + 1)]
        it = Loader(source, eval_spec, workers=workers).batches(iter(jobs))
        next(it)  # start-up (process spawn) excluded
        start = time.perf_counter()
        for _ in it:
            pass
        rate = steps * 32 / (time.perf_counter() - start)
        results[f"eval_examples_per_s_{workers}_workers"] = rate
        print(f"evaluation examples @256px, {workers} workers: {rate:.0f} examples/s")

    frame = rng.integers(0, 255, (1002, 1000, 3), np.uint8)
    joints = [cam_joints for cam_joints in (pose @ cam.R.T - cam.t @ cam.R.T for pose in poses)]
    rate, rates = _median_rate(
        lambda: [crop_frame(frame, j, cam, 384, 90) for j in joints], 50, args.repeats
    )
    results["converter_frames_per_s_one_core"] = rate
    print(f"converter crop + JPEG @384px: {rate:.0f} frames/s/core (runs {_fmt(rates)})")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data_speed.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
