"""The synthetic subjects' bodies and looks: phenotype, skin, clothes, hair (one per subject).

Each subject keeps one body and one outfit across its actions, as in a capture session.
Genders follow Human3.6M's subjects (S1, S5, S7 women; S6, S8, S9, S11 men). Adults: ages 25 to
60 (anny's age 2/3 to 0.85), weight and muscle across their middle range, and a stature drawn
from typical adult ones (men 1,740 +- 70 mm, women 1,620 +- 65 mm, within 2 sigma), reached
by solving for anny's height value (stature is close to linear in it).

Clothes are parts of anny's tights shell chosen by the bone that moves each of its vertices
(a top with short or long sleeves, shorts or trousers), an optional skirt shell, shoes on the
feet's skin; hair is the long-hair shell or short hair coloured on the scalp.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np

from c2f.body.build import PARTS
from c2f.body.model import BodyModel, rest

H36M_WOMEN = (1, 5, 7)
# Skin tones, linear-ish RGB 0..1, light to dark.
SKIN_TONES = np.array([
    (0.96, 0.80, 0.69), (0.92, 0.72, 0.58), (0.85, 0.64, 0.49), (0.76, 0.55, 0.40),
    (0.62, 0.43, 0.30), (0.48, 0.32, 0.22), (0.36, 0.24, 0.17),
])  # fmt: skip
HAIR = np.array([(0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.45, 0.30, 0.16), (0.70, 0.55, 0.32),
                 (0.55, 0.53, 0.50)])  # fmt: skip
_TOP = ("spine", "clavicle", "shoulder", "upperarm", "neck01")
_LONG_SLEEVES = ("lowerarm",)
_BOTTOM = ("root", "pelvis", "upperleg")
_LONG_LEGS = ("lowerleg",)
_FEET = ("foot", "toe")
_BIAS_MM = {"body": 0.0, "tights": 4.0, "skirt": 7.0, "hair": 3.0, "eyes": 0.0}


@dataclasses.dataclass(frozen=True)
class Person:
    """One subject's body and look.

    Attributes:
      phenotype: [6] (c2f.body.model.PHENOTYPE).
      albedo: [V, 3] colour of each vertex, 0..1.
      faces: [F, 3] the triangles drawn.
      bias: [F] their depth bias, mm (clothing over skin).
    """

    phenotype: np.ndarray
    albedo: np.ndarray
    faces: np.ndarray
    bias: np.ndarray


def stature(model: BodyModel, phenotype) -> float:
    """Skin height (mm) of a rest shape: the crown above the soles."""
    v = np.asarray(rest(model, jnp.asarray(phenotype, jnp.float32)).vertices)
    skin = np.unique(model.faces[model.face_part == PARTS.index("body")])
    return float(v[skin, 2].max() - v[skin, 2].min())


def sample_phenotype(model: BodyModel, rng: np.random.Generator, woman: bool) -> np.ndarray:
    """An adult's phenotype [6] with a stature drawn from adults of that sex."""
    mean, sd = (1620.0, 65.0) if woman else (1740.0, 70.0)
    target = mean + sd * np.clip(rng.normal(), -2.0, 2.0)
    ph = np.array([float(woman), rng.uniform(2 / 3, 0.85), rng.uniform(0.25, 0.75),
                   rng.uniform(0.2, 0.8), 0.0, rng.uniform(0.0, 0.6)])  # fmt: skip
    low = stature(model, ph)
    high = stature(model, np.r_[ph[:4], 1.0, ph[5:]])
    ph[4] = np.clip((target - low) / (high - low), 0.0, 1.0)
    return ph


def _dominant_bone_prefix(model: BodyModel) -> np.ndarray:
    names = np.array([n.split(".")[0].rstrip("0123456789-") for n in model.bone_names])
    return names[np.asarray(model.weights).argmax(1)]


def _with(prefixes, names) -> np.ndarray:
    return np.isin(names, [n.rstrip("0123456789-") for n in prefixes])


def make_person(model: BodyModel, rng: np.random.Generator, woman: bool) -> Person:
    """A random person's body and look (see the module docstring)."""
    phenotype = sample_phenotype(model, rng, woman)
    bone = _dominant_bone_prefix(model)
    part_of_vertex = np.full(len(bone), -1)
    for p in range(len(PARTS)):
        part_of_vertex[np.unique(model.faces[model.face_part == p])] = p
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.95, 1.05)
    top, bottom = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.8, 3) * rng.uniform(0.4, 1.0)
    albedo = np.tile(skin, (len(bone), 1))
    top_region = _with(_TOP + (_LONG_SLEEVES if rng.random() < 0.5 else ()), bone)
    bottom_region = _with(_BOTTOM + (_LONG_LEGS if rng.random() < 0.7 else ()), bone)
    is_part = {p: part_of_vertex == i for i, p in enumerate(PARTS)}
    albedo[is_part["tights"] & top_region] = top
    albedo[is_part["tights"] & bottom_region] = bottom
    albedo[is_part["body"] & _with(_FEET, bone)] = rng.uniform(0.05, 0.6) * rng.uniform(0.7, 1, 3)
    hair = HAIR[rng.integers(len(HAIR))]
    long_hair = rng.random() < (0.6 if woman else 0.1)
    v = np.asarray(rest(model, jnp.asarray(phenotype, jnp.float32)).vertices)
    eye_z = float(v[is_part["eyes"], 2].mean())
    scalp = is_part["body"] & (bone == "head") & ((v[:, 2] > eye_z + 30) | (
        (v[:, 2] > eye_z - 45) & (v[:, 1] < np.median(v[is_part["eyes"], 1]) - 90)))  # fmt: skip
    albedo[scalp] = hair
    albedo[is_part["hair"]] = hair
    albedo[is_part["eyes"]] = (0.9, 0.9, 0.88)
    front = v[is_part["eyes"], 1].max()
    albedo[is_part["eyes"] & (v[:, 1] > front - 4)] = rng.uniform(0.05, 0.35, 3)
    albedo *= rng.uniform(0.96, 1.04, (len(albedo), 1))  # a little texture
    drawn = is_part["body"] | is_part["eyes"] | (is_part["tights"] & (top_region | bottom_region))
    drawn |= is_part["skirt"] & (woman and rng.random() < 0.4)
    drawn |= is_part["hair"] & long_hair
    keep = drawn[model.faces].all(1)
    faces = model.faces[keep]
    bias = np.array([_BIAS_MM[PARTS[p]] for p in model.face_part[keep]], np.float32)
    return Person(phenotype, np.clip(albedo, 0, 1).astype(np.float32), faces, bias)


def subject_person(model: BodyModel, subject: int, seed: int = 0) -> Person:
    """The person of a (synthetic) Human3.6M subject: the same across actions and splits."""
    rng = np.random.default_rng([seed, subject, 2024])
    return make_person(model, rng, woman=subject in H36M_WOMEN)
