"""Rendered bodies for the synthetic default: pose the anny body model, draw it through a camera.

:class:`BodyScene` holds the body model (full mesh) and the jitted, frame-batched posing; one per
worker process. A sequence's motion (:func:`data_prep.synthetic.motion.sequence_params`) drives
the rig (:mod:`data_prep.synthetic.body_pose`); the body stands with its lower ankle 8 cm up,
as the capsules do. A view is z-buffered and perspective-correct
(:mod:`data_prep.synthetic.raster`), lit by one directional light of random direction plus
ambient, over the capsules' floor and wall with a random smooth texture on top, then the same
sensor noise.
"""

import dataclasses
import importlib.metadata

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

from c2f.body.build import BUILD_VERSION
from c2f.body.keypoints import keypoint_regressor
from c2f.body.model import NUM_EXPRESSIONS, BodyModel, pose, rest
from c2f.body.raster import rasterize, shade, vertex_normals
from c2f.geometry import Camera
from c2f.geometry.crop import invert_affine
from data_prep.synthetic import motion
from data_prep.synthetic.body_pose import (
    global_rotations,
    heading_rotation,
    local_rotations,
    rest_rig,
    sample_face_keys,
    sample_hand_keys,
)
from data_prep.synthetic.people import Person, subject_person
from data_prep.synthetic.render import _background, add_sensor_noise, random_style


@dataclasses.dataclass(frozen=True)
class Track:
    """A posed sequence, world frame, mm.

    vertices [T, V, 3], keypoints [T, J, 3], local rotations [T, B, 3, 3] (the root's holds the
    heading), root head positions [T, 3], face expression weights [T, E].
    """

    vertices: np.ndarray
    keypoints: np.ndarray
    rotations: np.ndarray
    root: np.ndarray
    expression: np.ndarray


class BodyScene:
    """The body model, posed and drawn for the generator (see the module docstring)."""

    def __init__(self, skeleton: str = "h36m17"):
        self.model = BodyModel.load("full")
        self.skeleton = skeleton
        self._pose = jax.jit(jax.vmap(pose, in_axes=(None, None, 0, 0, 0)))
        self._rest = jax.jit(rest)
        self._regressor = keypoint_regressor(self.model, skeleton)
        self._feet = [self.model.bone("foot.L"), self.model.bone("foot.R")]
        self._people: dict = {}

    def body_model_info(self) -> dict:
        """What a dataset file states of the model its body fields follow (schema BODY_ATTR)."""
        try:
            version = importlib.metadata.version("anny")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        return {"model": "anny", "version": version, "bones": self.model.num_bones,
                "expressions": NUM_EXPRESSIONS, "topology": self.model.topology,
                "build": BUILD_VERSION}  # fmt: skip

    def person(self, subject: int, seed: int) -> Person:
        if (subject, seed) not in self._people:
            self._people[subject, seed] = subject_person(self.model, subject, seed)
        return self._people[subject, seed]

    def keypoints(self, vertices, heads, tails) -> np.ndarray:
        H, T, (vrow, vid, vw) = self._regressor
        out = np.einsum("jb,...bd->...jd", H, heads) + np.einsum("jb,...bd->...jd", T, tails)
        np.add.at(out, (slice(None), vrow), vw[:, None] * vertices[:, vid])
        return out

    def track(self, person: Person, frames, motion_params, rng: np.random.Generator) -> Track:
        """Pose a sequence at 50 fps frame ids ``frames``.

        ``motion_params`` is what :func:`data_prep.synthetic.motion.sequence_params` returns for
        them; ``rng`` draws the hands' key poses (eased between, one a second, as the body's).
        """
        angles, heading, root_xy = motion_params
        r = self._rest(self.model, jnp.asarray(person.phenotype, jnp.float32))
        rig = rest_rig(self.model, np.asarray(r.heads), np.asarray(r.tails))
        n = len(angles)
        t = np.asarray(frames) / motion.FPS
        n_keys = int(np.ceil(t.max() / motion.KEY_SECONDS)) + 2
        hands = motion._eased(sample_hand_keys(rng, n_keys), t)
        faces = motion._eased(sample_face_keys(rng, n_keys), t)
        expression = np.stack([faces[f"e{k}"] for k in range(NUM_EXPRESSIONS)], 1)
        rots = np.stack([
            local_rotations(rig, global_rotations(rig, a, {k: v[i] for k, v in hands.items()}),
                            heading_rotation(heading[i]))
            for i, a in enumerate(angles)
        ]).astype(np.float32)  # fmt: skip
        posed = self._pose(self.model, jnp.asarray(person.phenotype, jnp.float32),
                           jnp.asarray(rots), jnp.zeros((n, 3), jnp.float32),
                           jnp.asarray(expression, jnp.float32))  # fmt: skip
        verts, heads, tails = (np.asarray(x, np.float64) for x in posed)
        ankles = heads[:, self._feet, 2]
        lift = np.array([motion.on_floor(a) for a in ankles])
        shift = np.concatenate([np.asarray(root_xy, float), lift[:, None]], axis=1)
        verts += shift[:, None]
        kp = self.keypoints(verts, heads + shift[:, None], tails + shift[:, None])
        return Track(verts.astype(np.float32), kp, rots, shift, expression.astype(np.float32))

    def draw(self, person: Person, vertices_world, cam: Camera, A, size: int, rng,
             look: dict | None = None) -> np.ndarray:  # fmt: skip
        """[size, size, 3] uint8: one posed body through ``cam`` into the crop ``A``.

        ``look``: the scene's colours, texture and light (:func:`random_look`); random if None
        (a clip keeps one).
        """
        K = np.array([[cam.f[0], 0, cam.c[0]], [0, cam.f[1], cam.c[1]], [0, 0, 1.0]])
        look = look or random_look(rng)
        Ainv = np.vstack([invert_affine(A), [0.0, 0.0, 1.0]])
        image = _background((np.linalg.inv(K) @ Ainv).astype(np.float32), cam.R, cam.t, size,
                            look["style"])  # fmt: skip
        if look["texture"] is not None:  # a smooth texture over floor and wall
            tex = Image.fromarray(look["texture"]).resize((size, size), Image.BICUBIC)
            image *= 0.7 + 0.6 * np.asarray(tex, np.float32) / 255.0
        v_cam = ((vertices_world - cam.t) @ cam.R.T).astype(np.float32)
        uvw = v_cam @ (np.vstack([A, [0.0, 0.0, 1.0]]) @ K).T
        px = (uvw[:, :2] / uvw[:, 2:]).astype(np.float32)
        face, bary = rasterize(px, v_cam[:, 2].copy(), person.faces, person.bias, size, size)
        normals = vertex_normals(v_cam, person.faces)
        pix, colours = shade(face, bary, person.faces, v_cam, normals, person.albedo,
                             look["light"], look["ambient"])  # fmt: skip
        image.reshape(-1, 3)[pix] = colours * look["tint"]
        return add_sensor_noise(image, rng)


def random_look(rng: np.random.Generator) -> dict:
    """A scene's look: background colours, an optional texture, the light and its tint."""
    style = random_style(rng)
    texture = None
    if rng.random() < 0.7:
        k = int(rng.integers(3, 12))
        grid = rng.uniform(0, 255, (k, k, 1)) * rng.uniform(0.8, 1.0, (1, 1, 3))  # greyish
        texture = grid.astype(np.uint8)
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1.2, 0.2), rng.uniform(-1.2, -0.3)])
    return {"style": style, "texture": texture, "light": light / np.linalg.norm(light),
            "ambient": rng.uniform(0.25, 0.5),
            "tint": rng.uniform(0.85, 1.1, 3).astype(np.float32)}  # fmt: skip


def camera_frame_params(track: Track, i: int, cam: Camera) -> dict:
    """The body parameters of frame ``i`` in ``cam``'s frame: the stored fields.

    ``body_pose`` [B, 3] axis-angle local rotations whose root turns the body into the camera
    frame; ``body_root`` [3] the root head, camera mm; ``body_expression`` [E].
    ``c2f.body.model.pose`` of these (with the sample's ``body_shape``) gives the camera-frame
    vertices.
    """
    rots = track.rotations[i].astype(np.float64).copy()
    rots[0] = cam.R @ rots[0]
    aa = Rotation.from_matrix(rots).as_rotvec().astype(np.float32)
    return {"body_pose": aa, "body_root": ((track.root[i] - cam.t) @ cam.R.T).astype(np.float32),
            "body_expression": track.expression[i]}  # fmt: skip
