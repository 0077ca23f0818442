"""What the 2D-only converters (MPII, COCO, COCO-WholeBody) share: joint maps, one stored sample.

Joint maps are by name, between a source's joints and any skeleton of :mod:`c2f.skeleton`
(:func:`joint_map` from rules, :func:`same_names` where the names agree), so a 2D source can
be mixed into runs of any keypoint set, not only Human3.6M's 17 joints.

A 2D-only sample has ``valid_3d`` all zero and ``joints_cam`` zero (a placeholder), its 2D
joints where the source annotates them (``valid_2d``), and a nominal camera (focal length
1.145 x the image's longer side, principal point at the centre; :mod:`c2f.serving.person_crop`'s).
The crop is the person box times :data:`data_prep.sample.CROP_MARGIN`, as for Human3.6M.
"""

import pathlib

import numpy as np
from PIL import Image
from tqdm import tqdm

from c2f.data.schema import DatasetWriter
from c2f.geometry import Camera
from c2f.serving.person_crop import nominal_K
from c2f.skeleton import H36M17, Skeleton
from data_prep.sample import make_sample


def joint_map(rules: dict, skeleton: Skeleton = H36M17) -> list[str]:
    """The schema's ``joint_sources`` (one per joint of ``skeleton``) from ``{name: rule}``."""
    unknown = set(rules) - set(skeleton.joint_names)
    if unknown:
        raise ValueError(f"joint map: {sorted(unknown)} are not joints of {skeleton.name!r}")
    return [rules.get(name, "") for name in skeleton.joint_names]


def same_names(source_names, skeleton: Skeleton) -> list[str]:
    """``joint_sources`` of a source whose joint names are the skeleton's own (any order)."""
    known = set(source_names)
    return [name if name in known else "" for name in skeleton.joint_names]


def map_joints(uv, valid, source_names, sources: list[str]):
    """Source joints onto a skeleton's: ([J, 2] px, [J] bool), J = ``len(sources)``.

    Args:
      uv: [K, 2] the source's joints, px.
      valid: [K] bool, annotated.
      source_names: the source's K joint names.
      sources: :func:`joint_map`'s entries: a source name, ``"mid(a, b)"`` (valid when both
        are), or ``""`` (never valid).
    """
    index = {name: k for k, name in enumerate(source_names)}
    out, ok = np.zeros((len(sources), 2)), np.zeros(len(sources), bool)
    for j, rule in enumerate(sources):
        if not rule:
            continue
        if rule.startswith("mid(") and rule.endswith(")"):
            a, b = (index[name.strip()] for name in rule[4:-1].split(","))
            out[j], ok[j] = (uv[a] + uv[b]) / 2, valid[a] and valid[b]
        else:
            out[j], ok[j] = uv[index[rule]], valid[index[rule]]
    out[~ok] = 0.0
    return out, ok


def nominal_camera(width: int, height: int) -> Camera:
    """A pinhole camera for an image of unknown intrinsics (only its 2D is used)."""
    return Camera.from_intrinsics(nominal_K(width, height), width, height)


def sample_2d(image, uv, valid, center, scale: float, crop_res: int, quality: int = 90) -> dict:
    """One stored 2D-only sample (all fields but the ids).

    Args:
      image: [H, W, 3] uint8, the original image.
      uv: [J, 2] the skeleton's joints in it, px (pixel centres at integers).
      valid: [J] bool, the joints the source annotates.
      center: [2] person box centre, px.
      scale: the box side / 200.
      crop_res: stored crop side, px.
      quality: JPEG quality.
    """
    cam = nominal_camera(image.shape[1], image.shape[0])
    j = len(uv)
    s = make_sample(image, np.zeros((j, 3)), uv, np.asarray(center, float), scale,
                    cam, crop_res, quality)  # fmt: skip
    s["joints_2d"][~valid] = 0.0
    s["valid_2d"] = valid.astype(np.uint8)
    s["valid_3d"] = np.zeros(j, np.uint8)
    return s


def write_people(out, people, images, crop_res: int, *, source: str, args: dict, names,
                 joint_sources, skeleton: Skeleton = H36M17) -> int:  # fmt: skip
    """Write 2D-only people into one dataset file; returns the sample count.

    Args:
      out: the dataset file to write.
      people: dicts with ``image`` (file name under ``images``), ``uv`` [K, 2] the source's
        joints (0-based px), ``valid`` [K] bool, ``center`` [2] px and ``scale`` of the person
        box, and ``frame`` (the image's id).
      images: folder of the images.
      crop_res: stored crop side, px.
      source: the file's ``source`` (also its one action name, upper case).
      args: the converter's arguments, stored.
      names: the source's K joint names.
      joint_sources: :func:`joint_map`'s list for ``skeleton``.
      skeleton: the keypoint set written (default Human3.6M's 17 joints).
    """
    images = pathlib.Path(images)
    seen: dict = {}
    args = {**args, "frame_step": 0}  # still images: no video (H5Source.independent_frames)
    with DatasetWriter(out, source=source, args=args, crop_res=crop_res,
                       action_names=[source.upper()], camera_names=["unknown"],
                       source_joint_names=names, joint_sources=joint_sources,
                       skeleton=skeleton) as w:  # fmt: skip
        for person in tqdm(people, desc=source, unit="person"):
            path = images / person["image"]
            try:
                image = np.asarray(Image.open(path).convert("RGB"))
            except (OSError, ValueError) as e:
                raise ValueError(f"{path}: image named in the annotations unreadable ({e})") from e
            uv, valid = map_joints(person["uv"], person["valid"], names, joint_sources)
            s = sample_2d(image, uv, valid, person["center"], person["scale"], crop_res)
            n = seen[person["frame"]] = seen.get(person["frame"], -1) + 1
            # subaction: the person's number in the image
            s.update(subject=0, action=0, camera=0, frame=person["frame"], subaction=n)
            w.append({key: [v] for key, v in s.items()})
        return w.count


def add_arguments(parser, annot_help: str) -> None:
    """Add the 2D converters' common options (annotations, images, output, crop side, limit)."""
    parser.add_argument("--annot", required=True, type=pathlib.Path, help=annot_help)
    parser.add_argument("--images", required=True, type=pathlib.Path, help="the images' folder")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="output .h5 file")
    parser.add_argument("--crop-res", type=int, default=256, help="stored crop side, px")
    parser.add_argument("--limit", type=int, help="convert only the first N people")
