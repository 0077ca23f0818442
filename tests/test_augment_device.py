"""The device augmentation (``data.augment_on="device"``) against the host's, same draws."""

import json

import numpy as np
import pytest

from c2f.config import apply_overrides
from c2f.data import AugmentConfig, BatchSpec, H5Source, Loader
from c2f.geometry.resample import augment_batch, augment_image
from c2f.train.loop import train
from tests.small import MICRO_RUN

RES, OUT = 128, 32
# Every draw rotates, half flip, colours and zooms: the warp's hardest cases.
AUG = AugmentConfig(rot_prob=1.0, rot_sigma_deg=40.0)


def _loaders(path):
    source = H5Source(path)
    spec = dict(batch_size=8, input_res=RES, output_res=OUT, augment=AUG, seed=3)
    host = Loader(source, BatchSpec(**spec))
    device = Loader(source, BatchSpec(**spec, augment_on="device"))
    return host, device


def _interior(res: int, margin: int) -> np.ndarray:
    inner = np.zeros((res, res), bool)
    inner[margin:-margin, margin:-margin] = True
    return inner


def test_device_augmentation_equals_the_hosts(synthetic_split):
    host, device = _loaders(synthetic_split)
    for step in (0, 1, 2):
        a, b = host.batch(step), device.batch(step)
        assert "image" not in b and b["crop"].shape == (8, 128, 128, 3)
        assert b["warp"].shape == (8, 3, 2, 3) and b["warp"].dtype == np.float32
        pixels = np.asarray(augment_batch(b["crop"], b["warp"], b["colour"], RES))
        diff = np.abs(pixels - a["image"].astype(np.float32))
        # Within 1 grey level away from the picture's border (float32 bilinear weights flip a
        # truncation now and then: PIL computes in float64); almost every pixel is equal.
        assert diff[:, _interior(RES, 2)].max() <= 1.0, step
        assert np.mean(diff > 0) < 1e-4, np.mean(diff > 0)
        assert np.any(b["colour"] != 1.0) and np.any(a["image"] > 0)
        # The joints and everything else come from the same host code: exactly equal.
        for key in a:
            if key != "image":
                np.testing.assert_allclose(a[key], b[key], atol=1e-3, err_msg=key)


def test_padding_a_smaller_crop_keeps_its_pixels():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    padded = np.pad(crop, ((0, 32), (0, 32), (0, 0)))
    inverse = np.array([[0.4, 0.1, 5.0], [-0.1, 0.4, 9.0]], np.float32)
    colour = np.array([1.1, 0.9, 1.0], np.float32)
    a = np.asarray(augment_image(crop, inverse, colour, 96))
    b = np.asarray(augment_image(padded, inverse, colour, 96))
    # 96 px at 0.4 source px per px spans 38 source px from (5, 9): inside the 64 px crop.
    np.testing.assert_array_equal(a, b)
    assert a.max() > 0


def test_training_with_device_augmentation_starts_where_the_host_run_does(
    micro_cfg, micro_run, tmp_path
):
    """Step 1's loss (the initial network on batch 0) matches the host-augmented run's."""
    cfg = apply_overrides(micro_cfg, [*MICRO_RUN, "train.steps=2", "train.eval_every=100",
                                      "data.augment_on='device'"])  # fmt: skip
    train(cfg, tmp_path, progress=False)

    def first_loss(workdir):
        rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
        return next(r["train/loss"] for r in rows if r["step"] == 1)

    assert first_loss(tmp_path) == pytest.approx(first_loss(micro_run), rel=1e-3)
