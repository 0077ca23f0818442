"""``c2f predict IMAGES... --workdir RUN --out DIR``: pose your own images.

Image files, or folders of them (``.jpg .jpeg .png .bmp .webp .tif .tiff``, sorted by name),
go through the run's :class:`c2f.Predictor` in batches. For each image, ``DIR/<stem>.json``
holds the 2D joints (px in the image), the 3D joints (root-relative mm in the camera's
orientation; with ``--K`` also camera-frame mm, the root depth recovered from bone lengths or
given by ``--root-depth``),
the joint names, the person box and the image size; ``DIR/<stem>_pose.jpg`` draws the 2D
skeleton on the image beside the 3D one (as ``c2f video`` does); ``DIR/predictions.npz`` holds
every image's joints in one file (``names``, ``joints_2d`` [N, J, 2], ``joints_3d`` [N, J, 3]).

The person is the whole image unless ``--box x0,y0,x1,y1`` (every image) or ``--boxes FILE.json``
(``{"image file name": [x0, y0, x1, y1] or null}``; images it does not name use the whole
image) says where. Without ``--K fx,fy,cx,cy`` the camera is a nominal Human3.6M-like one
(focal length 1.145 x the longer side, principal point at the centre).

``--mesh`` fits the body model (c2f/serving/mesh.py) to each image's 3D and 2D joints and writes
``DIR/<stem>_mesh.obj`` (camera frame, mm: the ``--K`` camera's, else the nominal one's), its
fitted parameters in the JSON (``mesh``) and ``DIR/<stem>_mesh.jpg``, the mesh over the image.

A file that does not decode as an image is named and skipped; the others are written and the
exit code is 3. Bad arguments (no images, a bad box, two images with one stem, an output that
would replace an input) are refused before any work, exit code 2.
"""

import argparse
import json
import pathlib
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from c2f.body import check_available
from c2f.outputs import (
    OutputError,
    add_overwrite,
    check_output_folder,
    check_outputs,
    replacing,
)
from c2f.serving.inputs import IMAGE_SUFFIXES, parse_box, parse_K, parse_numbers
from c2f.serving.mesh import overlay, write_obj
from c2f.serving.person_crop import prepare
from c2f.serving.predictor import Predictor
from c2f.serving.video import compose


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+", type=pathlib.Path, help="image files or folders")
    p.add_argument("--workdir", required=True, help="a trained run (c2f train)")
    p.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    p.add_argument("--best", action="store_true", help="the best checkpoint by test MPJPE")
    box = p.add_mutually_exclusive_group()
    box.add_argument("--box", help="x0,y0,x1,y1 px: the person in every image")
    box.add_argument("--boxes", type=pathlib.Path, help="JSON {image file name: box or null}")
    p.add_argument("--K", help="fx,fy,cx,cy px of the camera (default: a nominal one)")
    p.add_argument("--root-depth", help="mm, comma-separated per part: for skeletons without "
                   "bone lengths (hands), the root depth of joints_3d_camera")  # fmt: skip
    p.add_argument("--batch", type=int, default=8, help="images per prediction call")
    p.add_argument("--no-draw", action="store_true", help="joints only, no pictures")
    p.add_argument("--mesh", action="store_true", help="also fit the body model: a mesh per "
                   "image (OBJ, camera frame, mm), its parameters and a picture of it")  # fmt: skip
    add_overwrite(p)
    return p.parse_args(argv)


def list_images(inputs) -> list[pathlib.Path]:
    """The image files named or inside the named folders, in order; an error names a missing one."""
    paths = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ValueError(f"{item}: a folder with no image ({', '.join(IMAGE_SUFFIXES)})")
            paths.extend(found)
        elif item.is_file():
            paths.append(item)
        else:
            raise ValueError(f"{item}: no such file or folder")
    stems: dict = {}
    for path in paths:
        other = stems.setdefault(path.stem, path)
        if other != path:
            raise ValueError(f"{other} and {path}: one stem, so their outputs would collide")
    return paths


def read_boxes(path: pathlib.Path) -> dict:
    """``--boxes``: {file name: [x0, y0, x1, y1] or None}, checked."""
    try:
        boxes = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"--boxes: {path}: not a JSON object of boxes ({e})") from e
    if not isinstance(boxes, dict):
        raise ValueError(f"--boxes: {path}: expected a JSON object {{image name: box}}")
    for name, box in boxes.items():
        ok = box is None or (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        )
        if not ok:
            raise ValueError(f"--boxes: {path}: {name!r}: expected [x0, y0, x1, y1] or null")
    return boxes


def output_paths(paths, out: pathlib.Path, draw: bool, mesh: bool = False) -> dict:
    """{input: (json, picture, mesh, mesh picture)}, None where not written.

    Refuses outputs that are inputs or collide.
    """
    inputs = {p.resolve() for p in paths}
    table, seen = {}, {(out / "predictions.npz").resolve()}
    for path in paths:
        files = (out / f"{path.stem}.json", out / f"{path.stem}_pose.jpg" if draw else None,
                 out / f"{path.stem}_mesh.obj" if mesh else None,
                 out / f"{path.stem}_mesh.jpg" if mesh and draw else None)  # fmt: skip
        for f in files:
            if f is None:
                continue
            r = f.resolve()
            if r in inputs or r in seen:
                raise ValueError(f"--out: {f} would replace an input or another output")
            seen.add(r)
        table[path] = files
    return table


def decode(path: pathlib.Path):
    """[H, W, 3] uint8, or the reason it cannot be read."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB")), None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        return None, str(e) or type(e).__name__


def to_list(x, digits: int = 3) -> list:
    return np.round(np.asarray(x, np.float64), digits).tolist()


def _K(intrinsics) -> np.ndarray:
    fx, fy, cx, cy = np.asarray(intrinsics, np.float32)
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float32)


def fit_meshes(predictor, out: dict, intrinsics):
    """The body fitted to a batch's predictions (camera frame of each crop's camera)."""
    K = np.stack([_K(k) for k in intrinsics])
    return predictor.fit_mesh(out["joints_mm"], out["uv"], K), K


def write_mesh(meshes, i: int, image, obj_path, picture, given_K: bool) -> dict:
    """Write image ``i``'s mesh (and its picture); the JSON record of it."""
    result, K = meshes
    with replacing(obj_path) as tmp:
        write_obj(tmp, result.vertices[i], result.faces)
    if picture is not None:
        with replacing(picture) as tmp:
            Image.fromarray(overlay(image, result.vertices[i], result.faces, K[i])).save(
                tmp, quality=90
            )
    return {
        "obj": str(obj_path),
        "frame": "camera (--K)" if given_K else "the nominal camera (no --K given)",
        "vertices": int(result.vertices.shape[1]),
        "phenotype": to_list(result.phenotype[i], 6),  # enough digits to rebuild the mesh
        "pose_axis_angle_rad": to_list(result.pose[i], 6),
        "root_mm": to_list(result.root[i], 3),
        "fit_error_mm": round(float(result.fit_error_mm[i]), 2),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.batch < 1:
            raise ValueError("--batch must be >= 1")
        paths = list_images(args.images)
        box = parse_box(args.box) if args.box else None
        named = read_boxes(args.boxes) if args.boxes else {}
        K = parse_K(args.K) if args.K else None
        outputs = output_paths(paths, args.out, not args.no_draw, args.mesh)
        inputs = {f"IMAGES ({item})": item for item in args.images if item.is_dir()}
        check_output_folder("--out", args.out, inputs)
        run = pathlib.Path(args.workdir)
        if args.out.resolve() == run.resolve():  # its own files; a folder inside it is fine
            raise OutputError(f"--out: {args.out} is the run folder --workdir; give a folder "
                              "of its own (inside the run is fine)")  # fmt: skip
        files = {f"--out ({f.name})": f for fs in outputs.values() for f in fs if f is not None}
        files["--out (predictions.npz)"] = args.out / "predictions.npz"
        check_outputs(files, {str(p): p for p in paths}, overwrite=args.overwrite)
        depth = None
        if args.root_depth:
            depth = parse_numbers(args.root_depth, len(args.root_depth.split(",")), "--root-depth")
        if args.mesh:
            check_available()  # the body model's files, before any prediction
        predictor = Predictor.from_checkpoint(
            args.workdir, which="best" if args.best else "last", root_depth_mm=depth
        )
        names = list(predictor.skeleton.joint_names)
        args.out.mkdir(parents=True, exist_ok=True)
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    done, uv_all, rel_all, cam_all, skipped = [], [], [], [], []
    bar = tqdm(total=len(paths), desc="predict", unit="image")
    for start in range(0, len(paths), args.batch):
        chunk, crops = [], []
        for path in paths[start : start + args.batch]:
            image, problem = decode(path)
            if image is None:
                skipped.append(path)
                tqdm.write(f"skipped {path}: not a decodable image ({problem})", file=sys.stderr)
                bar.update(1)
                continue
            h, w = image.shape[:2]
            person = named.get(path.name, box) if args.boxes else box
            whole = (-0.5, -0.5, w - 0.5, h - 0.5)
            try:
                batch, _ = prepare(image, None if person is None else [person], K,
                                   predictor.input_res, predictor.output_res)  # fmt: skip
            except ValueError as e:
                skipped.append(path)
                tqdm.write(f"skipped {path}: {e}", file=sys.stderr)
                bar.update(1)
                continue
            chunk.append((path, image, list(person) if person is not None else list(whole)))
            crops.append(batch)
        if chunk:
            feed = {k: np.concatenate([c[k] for c in crops]) for k in crops[0]}
            out = predictor.run_crops(feed)
            meshes = fit_meshes(predictor, out, feed["intrinsics"]) if args.mesh else None
            for i, (path, image, person) in enumerate(chunk):
                record = {
                    "image": str(path),
                    "size": [int(image.shape[1]), int(image.shape[0])],
                    "box": [float(v) for v in person],
                    "skeleton": predictor.skeleton.name,
                    "joint_names": names,
                    "joints_2d_px": to_list(out["uv"][i]),
                    "joints_3d_mm": to_list(out["pred_mm"][i]),
                }
                if K is not None:
                    record["joints_3d_camera_mm"] = to_list(out["joints_mm"][i])
                json_path, picture, mesh_path, mesh_picture = outputs[path]
                if meshes is not None:
                    record["mesh"] = write_mesh(meshes, i, image, mesh_path, mesh_picture,
                                                given_K=K is not None)  # fmt: skip
                with replacing(json_path) as tmp:  # whole or absent, a full disk included
                    tmp.write_text(json.dumps(record, indent=1))
                if picture is not None:
                    drawn = compose(image, out["uv"][i], out["pred_mm"][i], predictor.skeleton)
                    with replacing(picture) as tmp:
                        Image.fromarray(drawn).save(tmp, quality=90)
                done.append(str(path))
                uv_all.append(out["uv"][i])
                rel_all.append(out["pred_mm"][i])
                cam_all.append(out["joints_mm"][i])
                bar.update(1)
    bar.close()
    if done:
        arrays = {
            "names": np.asarray(done),
            "joints_2d": np.stack(uv_all),
            "joints_3d": np.stack(rel_all),
            "joint_names": np.asarray(names),
        }
        if K is not None:
            arrays["joints_3d_camera"] = np.stack(cam_all)
        with replacing(args.out / "predictions.npz") as tmp:
            np.savez(tmp, **arrays)
    print(f"wrote {len(done)} of {len(paths)} images to {args.out} (JSON per image, "
          f"predictions.npz{'' if args.no_draw else ', pictures'})")  # fmt: skip
    if skipped:
        print(f"skipped {len(skipped)}: " + ", ".join(map(str, skipped)), file=sys.stderr)
        return 3 if done else 2
    return 0
