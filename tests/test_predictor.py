import numpy as np
import pytest

from c2f import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return Predictor.from_checkpoint(tiny_run)


def test_outputs_and_one_trace_per_bucket(predictor):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (5, 120, 100, 3), np.uint8)
    one = predictor(images[0])
    assert one["joints_2d"].shape == (17, 2) and one["joints_3d"].shape == (17, 3)
    assert "joints_3d_camera" not in one
    np.testing.assert_allclose(one["joints_3d"][0], 0, atol=1e-4)  # root-relative
    assert predictor.traces == 1
    for n in (3, 4):  # both pad to the bucket of 4
        out = predictor(images[:n])
        assert out["joints_2d"].shape == (n, 17, 2)
    assert predictor.traces == 2
    predictor(images[:4])
    assert predictor.traces == 2
    K = np.array([[150.0, 0, 50], [0, 150.0, 60], [0, 0, 1]])
    out = predictor(images[:2], boxes=[[10, 10, 90, 110], [0, 0, 99, 119]], K=K)
    cam = out["joints_3d_camera"]
    np.testing.assert_allclose(out["joints_3d"], cam - cam[:, :1], atol=1e-3)
    assert np.all(cam[:, :, 2] > 0)  # in front of the camera
    # The same image alone or in a batch gives the same answer.
    np.testing.assert_allclose(
        predictor(images[1])["joints_2d"], predictor(images[:3])["joints_2d"][1], atol=1e-3
    )


def test_2d_output_is_in_input_image_pixels(predictor):
    # The same content and box moved by (dx, dy): the same prediction, moved by (dx, dy).
    rng = np.random.default_rng(1)
    image = np.zeros((300, 300, 3), np.uint8)
    image[60:240, 60:240] = rng.integers(0, 255, (180, 180, 3), np.uint8)
    shifted = np.roll(image, (20, 30), axis=(0, 1))  # zeros roll into zeros: a pure shift
    a = predictor(image, boxes=[80, 70, 200, 210])["joints_2d"]
    b = predictor(shifted, boxes=[110, 90, 230, 230])["joints_2d"]
    np.testing.assert_allclose(b, a + [30, 20], atol=0.05)


def test_bad_input_names_the_argument(predictor, tiny_run):
    with pytest.raises(ValueError, match="decode: one of"):
        Predictor.from_checkpoint(tiny_run, decode="bogus")
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="images.*uint8"):
        predictor(img.astype(np.float32))
    with pytest.raises(ValueError, match="images.*channels"):
        predictor(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(ValueError, match="images.*shape"):
        predictor(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="images.*empty"):
        predictor(np.zeros((0, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="boxes.*outside"):
        predictor(img, boxes=[100, 100, 120, 120])
    with pytest.raises(ValueError, match="boxes.*empty"):
        predictor(img, boxes=[10, 10, 5, 20])
    with pytest.raises(ValueError, match="K"):
        predictor(img, K=np.eye(2))
    with pytest.raises(ValueError, match="K: focal lengths.*not plausible"):
        predictor(img, K=np.diag([1e30, 1e30, 1.0]))
    with pytest.raises(ValueError, match="which: 'last' or 'best'"):
        Predictor.from_checkpoint(tiny_run, which="worst")
    with pytest.raises(ValueError, match="max_bucket"):
        Predictor.from_checkpoint(tiny_run, max_bucket=0)
    with pytest.raises(ValueError, match="flip: one of"):
        Predictor.from_checkpoint(tiny_run, flip="sideways")
    with pytest.raises(FileNotFoundError, match="no checkpoint at step 5.*have"):
        Predictor.from_checkpoint(tiny_run, step=5)


def test_predictor_evaluation_and_pictures_share_one_compiled_function(predictor, tiny_run):
    # The Predictor's inference function evaluates a test split and feeds the pictures: for
    # one batch shape and root mode it is traced once, whoever calls it.
    from c2f.data import H5Source
    from c2f.evaluation.evaluate import evaluate, test_loader
    from c2f.serving.visualize import figure
    from c2f.sharding import make_mesh

    cfg = predictor.cfg
    source = H5Source(f"{cfg.data.root}/{cfg.data.test_file}")
    loader, indices = test_loader(cfg, source, limit=8, workers=0)
    inference = predictor.inference
    before = inference.traces
    result = evaluate(inference, loader, indices, make_mesh(), root="bones", pictures=indices[:2])
    assert inference.traces == before + (0 if before else 1)
    traced = inference.traces
    crops = result["pictures"]["image"]
    # The Predictor on the same crops (whole-image boxes, bucket 4 = the evaluation batch).
    out = predictor(np.concatenate([crops, crops]))
    assert inference.traces == traced  # no new compilation
    assert figure(result["pictures"], cfg).shape[0] == 2 * max(192, crops.shape[1])
    # Evaluation's 2D joints (crop px via coords) equal the Predictor's on the same crop.
    scale = cfg.model.input_res / cfg.model.output_res
    uv_eval = (result["pictures"]["coords"][:, :, :2] + 0.5) * scale - 0.5
    np.testing.assert_allclose(out["joints_2d"][:2], uv_eval, atol=1e-3)


def test_bfloat16_predictions_match_float32(tiny_run):
    # The same weights computing in bfloat16 (the GPU setting) and float32. On the trained demo
    # run the differences are 0.04 px / 1.4 mm median, 0.3 px / 8.6 mm at the 99th percentile
    # (python -m bench.numerics, BENCHMARKS.md). The 6-step tiny run's depth distributions are
    # nearly flat, so bfloat16 rounding moves its depth expectation more, by an amount that
    # depends on the initial weights (4 / 18 mm median / p99 with one init stream, 6.4 / 28
    # with another): bounded here in bins of its 16-bin, 124 mm depth grid.
    images = np.random.default_rng(2).integers(0, 255, (8, 64, 64, 3), np.uint8)
    f32 = Predictor.from_checkpoint(tiny_run, compute_dtype="float32")(images)
    bf16 = Predictor.from_checkpoint(tiny_run, compute_dtype="bfloat16")(images)
    d2 = np.linalg.norm(f32["joints_2d"] - bf16["joints_2d"], axis=-1)
    d3 = np.linalg.norm(f32["joints_3d"] - bf16["joints_3d"], axis=-1)
    assert np.median(d2) < 0.1 and np.percentile(d2, 99) < 0.5
    bin_mm = 1985.0 / 16
    assert np.median(d3) < 0.1 * bin_mm and np.percentile(d3, 99) < 0.35 * bin_mm
    assert np.any(d2 > 0)  # the dtype really changed


def test_inference_side_never_imports_training_code(tiny_run):
    import subprocess
    import sys

    script = (
        "import sys, numpy as np\n"
        "import c2f.evaluation.evaluate, c2f.serving.visualize, c2f.evaluation.report\n"
        "from c2f import Predictor\n"
        f"p = Predictor.from_checkpoint({str(tiny_run)!r})\n"
        "p(np.zeros((64, 64, 3), np.uint8))\n"
        "bad = sorted(m for m in sys.modules if m.startswith('c2f.train'))\n"
        "print('TRAINING MODULES', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert "TRAINING MODULES []" in out.stdout, out.stdout + out.stderr[-2000:]
