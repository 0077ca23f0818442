import pickle

import numpy as np
import pytest

from c2f.data import Augmentation, AugmentConfig, BatchSpec, H5Source, Loader, make_example
from c2f.data.augment import decode_jpeg, sample_augmentation, warp
from c2f.geometry import DepthBins
from c2f.skeleton import FLIP_PAIRS, H36M17

RES, OUT = 128, 32


@pytest.fixture(scope="module")
def source(synthetic_split):
    return H5Source(synthetic_split)


def _bilinear(image, uv):
    """Colours [J, 3] of ``image`` at sub-pixel points [J, 2] (pixel centres at integers)."""
    img = image.astype(np.float64)
    x, y = uv[:, 0], uv[:, 1]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    h, w = img.shape[:2]
    x0, y0 = np.clip(x0, 0, w - 2), np.clip(y0, 0, h - 2)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _example(sample, aug, source):
    return make_example(
        sample,
        aug,
        stored_res=source.crop_res,
        input_res=RES,
        output_res=OUT,
        depth_bins=DepthBins(),
        skeleton=H36M17,
    )


def test_augmented_keypoints_land_on_the_rendered_joints(source):
    rng = np.random.default_rng(0)
    no_colour = AugmentConfig(colour_min=1.0, colour_max=1.0, rot_prob=1.0)
    good, shifted = [], []
    for i in range(0, len(source), 7):
        sample = source[i]
        stored = decode_jpeg(sample["image"])
        truth = _bilinear(stored, sample["joints_2d"])
        ex = _example(sample, sample_augmentation(rng, no_colour), source)
        inside = np.all((ex["uv_input"] > 1) & (ex["uv_input"] < RES - 2), axis=1)
        seen = _bilinear(ex["image"], ex["uv_input"])
        err = np.abs(seen - truth[_order(sample, ex)]).max(1)[inside]
        off = np.abs(_bilinear(ex["image"], ex["uv_input"] + [5.0, 0]) - truth[_order(sample, ex)])
        good.append(err)
        shifted.append(off.max(1)[inside])
    good, shifted = np.concatenate(good), np.concatenate(shifted)
    assert np.median(good) < 12 and np.mean(good < 30) > 0.9
    assert np.median(shifted) > 2 * np.median(good)  # the test can tell a misplaced keypoint


def _order(sample, ex):
    """Joint permutation between the stored sample and the example (identity unless flipped)."""
    rel = sample["joints_cam"] - sample["joints_cam"][0]
    flipped = not np.allclose(ex["joints_rel_mm"][:, 0], rel[:, 0], atol=1e-3)
    perm = list(range(17))
    if flipped:
        for a, b in FLIP_PAIRS:
            perm[a], perm[b] = b, a
    return perm


def test_flip_swaps_sides_and_mirrors(source):
    sample = source[5]
    plain = _example(sample, Augmentation(), source)
    flipped = _example(sample, Augmentation(flip=True), source)
    for a, b in FLIP_PAIRS:
        np.testing.assert_allclose(
            flipped["uv_input"][a, 0], RES - 1 - plain["uv_input"][b, 0], atol=1e-4
        )
        np.testing.assert_allclose(flipped["uv_input"][a, 1], plain["uv_input"][b, 1], atol=1e-4)
        np.testing.assert_allclose(flipped["z_mm"][a], plain["z_mm"][b], atol=1e-4)
        np.testing.assert_allclose(
            flipped["joints_rel_mm"][a, 0], -plain["joints_rel_mm"][b, 0], atol=1e-4
        )
    diff = flipped["image"].astype(int) - plain["image"][:, ::-1].astype(int)
    assert np.abs(diff).max() <= 1  # PIL's fixed-point bilinear rounds either way


def test_targets_are_consistent(source):
    ex = _example(source[0], Augmentation(), source)
    bins = DepthBins()
    np.testing.assert_allclose(ex["coords"][:, 2], bins.to_bins(ex["z_mm"]), atol=1e-4)
    np.testing.assert_allclose(
        ex["coords"][:, :2], (ex["uv_input"] + 0.5) * OUT / RES - 0.5, atol=1e-4
    )
    assert ex["z_mm"][0] == 0 and ex["mask"].all() and ex["image"].shape == (RES, RES, 3)


def test_same_seed_and_step_give_the_same_batch(source):
    spec = BatchSpec(batch_size=8, input_res=RES, output_res=OUT, seed=3)
    a, b = Loader(source, spec), Loader(pickle.loads(pickle.dumps(source)), spec)
    for step in (0, 7, 40):
        x, y = a.batch(step), b.batch(step)
        assert all(np.array_equal(x[k], y[k]) for k in x)
    assert not np.array_equal(a.batch(1)["index"], a.batch(2)["index"])
    # An epoch visits every sample once.
    epoch = np.concatenate([a.indices(s) for s in range(a.steps_per_epoch)])
    assert len(set(epoch)) == len(epoch) == a.steps_per_epoch * 8
    # Resuming at step 5 continues exactly; workers change nothing.
    resumed = next(iter(Loader(source, spec, workers=2)(start_step=5, num_steps=2)))
    assert all(np.array_equal(resumed[k], a.batch(5)[k]) for k in resumed)


def test_in_order_loader_covers_every_sample(source):
    spec = BatchSpec(batch_size=50, input_res=RES, output_res=OUT, augment=None, shuffle=False)
    loader = Loader(source, spec)
    batches = list(loader(0, loader.steps_per_epoch))
    idx = np.concatenate([b["index"] for b in batches])
    np.testing.assert_array_equal(idx, np.arange(len(source)))
    # Evaluation's jobs (any index lists) built by worker processes: same batches, same order.
    jobs = [(np.array([5, 3, 90]), 0), (np.arange(40, 47), 0), (np.array([0]), 0)]
    parallel = list(Loader(source, spec, workers=2).batches(iter(jobs)))
    serial = list(loader.batches(iter(jobs)))
    assert [list(b["index"]) for b in parallel] == [list(j) for j, _ in jobs]
    assert all(np.array_equal(p[k], s[k]) for p, s in zip(parallel, serial) for k in s)


def test_bad_input(source, tmp_path):
    sample = dict(source[0])
    sample["image"] = np.frombuffer(b"garbage", np.uint8)
    with pytest.raises(ValueError, match="image.*JPEG"):
        _example(sample, Augmentation(), source)
    sample = dict(source[0])
    sample["joints_cam"] = np.full((17, 3), np.nan)
    with pytest.raises(ValueError, match="joints_cam"):
        _example(sample, Augmentation(), source)
    with pytest.raises(ValueError, match="batch_size"):
        Loader(source, BatchSpec(batch_size=10_000, input_res=RES, output_res=OUT))
    with pytest.raises(IndexError, match="out of range"):
        source[len(source)]


def test_warp_identity_copies_and_shift_moves_content():
    image = np.random.default_rng(0).integers(0, 255, (16, 16, 3), np.uint8)
    same = warp(image, np.eye(3)[:2], 16)
    np.testing.assert_array_equal(same, image)
    assert same is not image  # a copy: the caller may write into it
    shifted = warp(image, np.array([[1.0, 0, 2], [0, 1.0, 0]]), 16)  # content moves 2 px right
    np.testing.assert_array_equal(shifted[:, 2:], image[:, :-2])
