"""Continuous motion for the synthetic default: smooth 50 fps trajectories through key poses.

A sequence of an action family moves through key poses of that family (one a second, drawn as
:func:`data_prep.synthetic.poses.sample_angles` draws single poses), each joint angle eased
between consecutive keys (a cosine ease, so velocity is zero at the keys and continuous
everywhere). Gait families walk instead: a continuous gait phase at 0.8-1.1 strides per second
moves the legs and arms, and the root travels at 0.9-1.3 m/s along a circle of 1.2-2 m radius
(turning all the time, staying in view). The others turn slowly (+-25 deg/s, eased) and drift a
little. Feet stay on the floor (the lower ankle about 8 cm up, through a soft minimum). 50 fps
is Human3.6M's capture rate; frame ``f`` of a sequence is at ``f / 50`` s.
"""

import numpy as np

from data_prep.synthetic.poses import (
    GAIT,
    _rz,
    forward_kinematics,
    gait_angles,
    sample_angles,
    subject_bone_lengths,
)

FPS = 50
KEY_SECONDS = 1.0


def _eased(keys: list, t: np.ndarray) -> dict:
    """Angles at times ``t`` (s) between key dicts one ``KEY_SECONDS`` apart."""
    u = t / KEY_SECONDS
    k = np.minimum(np.floor(u).astype(int), len(keys) - 2)
    w = 0.5 - 0.5 * np.cos(np.pi * np.clip(u - k, 0.0, 1.0))
    return {name: np.array([keys[i][name] * (1 - a) + keys[i + 1][name] * a
                            for i, a in zip(k, w)]) for name in keys[0]}  # fmt: skip


def sequence_params(action: str, subject: int, frames, rng: np.random.Generator,
                    spread: float = 0.0):  # fmt: skip
    """The motion of one sequence before any body is built: ``(angles, heading, root)``.

    ``angles``: one dict of joint angles (radians, :data:`data_prep.synthetic.poses.FAMILIES`'
    keys) per frame; ``heading``: [T] radians about the vertical; ``root``: [T, 2] the pelvis'
    floor position, mm. Arguments as :func:`sequence`; the capsules and the body model both
    move by these, drawn from ``rng`` in one order.
    """
    frames = np.asarray(frames)
    t = frames / FPS
    n_keys = int(np.ceil((t.max() if len(t) else 0) / KEY_SECONDS)) + 2
    keys = [sample_angles(action, rng, spread) for _ in range(n_keys)]
    angles = _eased(keys, t)
    heading0 = rng.uniform(0, 2 * np.pi)
    if action in GAIT:
        stride = rng.uniform(0.8, 1.1)
        swing = np.deg2rad(rng.uniform(20, 32))
        phase = 2 * np.pi * stride * t + rng.uniform(0, 2 * np.pi)
        radius, speed = rng.uniform(1200, 2000), rng.uniform(900, 1300)
        direction = rng.choice([-1.0, 1.0])
        around = heading0 + direction * speed * t / radius  # angle on the circle
        root = radius * np.stack([np.cos(around), np.sin(around)], -1)
        heading = around + direction * np.pi / 2  # facing along the circle
    else:
        phase, swing = None, None
        # Turning rate (deg/s) eased between keys, integrated on the 50 fps grid.
        grid = np.arange(int(frames.max()) + 1 if len(frames) else 1) / FPS
        turn = _eased([{"a": rng.uniform(-25, 25)} for _ in range(n_keys)], grid)["a"]
        heading = (heading0 + np.deg2rad(np.cumsum(turn) / FPS))[frames]
        drift = _eased([{"x": rng.uniform(-150, 150), "y": rng.uniform(-150, 150)}
                        for _ in range(n_keys)], t)  # fmt: skip
        root = np.stack([drift["x"], drift["y"]], -1) + rng.uniform(-400, 400, 2)
    per_frame = []
    for i in range(len(t)):
        a = {name: values[i] for name, values in angles.items()}
        if phase is not None:
            a.update(gait_angles(action, phase[i], swing, smooth=True))
        per_frame.append(a)
    return per_frame, heading, root


def on_floor(ankle_heights) -> float:
    """The vertical shift that puts the lower ankle 8 cm up, through a soft minimum (10 mm).

    The hard minimum jerks the whole body when the supporting foot changes.
    """
    a = np.asarray(ankle_heights, float)
    return 80.0 + 10.0 * np.log(np.exp(-(a - a.min()) / 10.0).sum()) - a.min()


def sequence(action: str, subject: int, frames, rng: np.random.Generator, spread: float = 0.0):
    """World-frame joints [len(frames), 17, 3] (mm, z up) at the 50 fps frame ids ``frames``.

    Args:
      action: a Human3.6M action name (its pose family).
      subject: whose bone lengths.
      frames: non-negative frame ids (any order; e.g. every 5th, or consecutive).
      rng: draws the key poses, gait, path and heading.
      spread: how far the key poses reach beyond the family towards the joint limits
        (:func:`data_prep.synthetic.poses.angle_ranges`).
    """
    angles, heading, root = sequence_params(action, subject, frames, rng, spread)
    lengths = subject_bone_lengths(subject)
    out = np.empty((len(angles), 17, 3))
    for i, a in enumerate(angles):
        world = forward_kinematics(a, lengths) @ _rz(heading[i]).T
        world[:, :2] += root[i]
        world[:, 2] += on_floor(world[[3, 6], 2])
        out[i] = world
    return out
