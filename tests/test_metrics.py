import jax
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from c2f.evaluation import metrics, report
from c2f.h36m import ACTIONS
from c2f.skeleton import H36M17


def _np_mpjpe(p, g):
    return np.linalg.norm((p - p[:, :1]) - (g - g[:, :1]), axis=-1).mean(-1)


def _np_pa_mpjpe(p, g):
    """Float64 reference: Umeyama similarity alignment without reflection."""
    out = []
    for a, b in zip(p, g):
        a0, b0 = a - a.mean(0), b - b.mean(0)
        u, s, vt = np.linalg.svd(b0.T @ a0)
        d = np.sign(np.linalg.det(u @ vt))
        D = np.diag([1.0, 1.0, d])
        R = u @ D @ vt
        scale = np.trace(np.diag(s) @ D) / (a0**2).sum()
        out.append(np.linalg.norm(scale * a0 @ R.T + b.mean(0) - b, axis=-1).mean())
    return np.array(out)


@pytest.fixture(scope="module")
def poses():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (64, 17, 3)) + [0, 0, 5000]
    pred = gt + rng.normal(0, 40, gt.shape)
    return pred, gt


def test_agree_with_float64_numpy(poses):
    pred, gt = poses
    np.testing.assert_allclose(
        metrics.mpjpe(pred, gt, skeleton=H36M17), _np_mpjpe(pred, gt), rtol=1e-4
    )
    np.testing.assert_allclose(metrics.pa_mpjpe(pred, gt), _np_pa_mpjpe(pred, gt), rtol=1e-3)
    err = np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1)
    np.testing.assert_allclose(
        metrics.pck3d(pred, gt, skeleton=H36M17), (err <= 150).mean(-1), atol=1e-6
    )
    auc = np.mean([(err <= t).mean(-1) for t in np.arange(0, 151, 5)], axis=0)
    np.testing.assert_allclose(metrics.auc3d(pred, gt, skeleton=H36M17), auc, atol=1e-6)
    assert np.all(metrics.pa_mpjpe(pred, gt) <= metrics.mpjpe(pred, gt, skeleton=H36M17) + 1e-3)


def test_similarity_transform_has_zero_pa_mpjpe(poses):
    _, gt = poses
    rng = np.random.default_rng(1)
    rot = Rotation.random(len(gt), random_state=2).as_matrix()
    scale = rng.uniform(0.5, 2.0, (len(gt), 1, 1))
    moved = scale * np.einsum("nij,nkj->nki", rot, gt) + rng.normal(0, 1000, (len(gt), 1, 3))
    assert float(np.max(metrics.pa_mpjpe(moved, gt))) < 0.05  # mm, float32
    assert float(np.min(metrics.mpjpe(moved, gt, skeleton=H36M17))) > 10.0


def test_reflection_is_not_allowed(poses):
    _, gt = poses
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    # A reflection is no proper rotation: Protocol 2 must not undo it.
    assert float(np.min(metrics.pa_mpjpe(mirrored, gt))) > 10.0
    np.testing.assert_allclose(
        metrics.pa_mpjpe(mirrored, gt), _np_pa_mpjpe(mirrored, gt), rtol=1e-3
    )


def test_root_alignment_and_jit(poses):
    pred, gt = poses
    shifted = pred + np.array([100.0, -50.0, 2000.0])
    np.testing.assert_allclose(
        metrics.mpjpe(shifted, gt, skeleton=H36M17),
        metrics.mpjpe(pred, gt, skeleton=H36M17),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        jax.jit(metrics.pa_mpjpe)(pred, gt), metrics.pa_mpjpe(pred, gt), rtol=1e-5
    )


def test_per_action_table():
    values = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    actions = ["WalkDog 1", "Directions", "WalkingDog", "Directions 2", "TakingPhoto_1", "Photo"]
    table = metrics.per_action(values, actions)
    assert list(table.per_action) == ["Directions", "Photo", "WalkDog"]  # the paper's order
    assert table.per_action == {"Directions": 30.0, "Photo": 55.0, "WalkDog": 20.0}
    assert table.frames == {"Directions": 2, "Photo": 2, "WalkDog": 2}
    assert table.weighted == pytest.approx(35.0)
    assert table.mean_over_actions == pytest.approx(35.0)
    uneven = metrics.per_action(np.array([10.0, 10.0, 10.0, 40.0]), ["Eating"] * 3 + ["Sitting"])
    assert uneven.weighted == pytest.approx(17.5) and uneven.mean_over_actions == pytest.approx(
        25.0
    )
    md = report.markdown({"MPJPE": table})
    assert "| | Dir | Photo | WalkD | Avg | Weighted |" in md and "| MPJPE | 30.0 | 55.0 |" in md
    assert len(ACTIONS) == 15


def test_bad_input(poses):
    pred, gt = poses
    with pytest.raises(ValueError, match="gt"):
        metrics.mpjpe(pred, gt[:, :16], skeleton=H36M17)
    with pytest.raises(ValueError, match="pred"):
        metrics.pa_mpjpe(pred[..., :2], gt[..., :2])
    bad = pred.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="pred.*NaN"):
        metrics.mpjpe(bad, gt, skeleton=H36M17)
    # Another dataset's activities are kept as named, in order of first appearance.
    other = metrics.per_action(np.array([1.0, 2.0, 4.0]), ["Sports", "Sitting x", "Sports"])
    assert other.per_action == {"Sports": 2.5, "Sitting x": 2.0} and other.weighted == 7 / 3
    with pytest.raises(ValueError, match="actions"):
        metrics.per_action(np.ones(2), ["Directions"])
