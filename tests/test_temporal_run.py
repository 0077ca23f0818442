"""The temporal model end to end (issue 28): trained by ``c2f train-temporal`` on a micro run's
predictions and on planted noise, resumed exactly, evaluated (``c2f eval --temporal``), used by
``c2f video --temporal`` and streamed; the volume's confidence it reads."""

import json
import shutil

import numpy as np
import pytest

from c2f.cli import main as c2f_main
from c2f.temporal.apply import Refiner
from c2f.temporal.run import load, manager, run_folder
from c2f.volume.confidence import peak_mass, peak_value

# A micro temporal model: 9-frame windows, 32 or 128 channels.
TINY = ["batch_size=32", "log_every=10", "checkpoint_every=20", "model.width=32",
        "model.depth=1", "model.window=9", "model.dropout=0.0"]  # fmt: skip


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    """S1's consecutive frames from one camera: 30 runs of 6 frames (capsules, 96 px)."""
    from data_prep.synthetic.generate import write_split

    path = tmp_path_factory.mktemp("seq") / "seq.h5"
    write_split(path, ["S1"], poses=6, crop_res=96, seed=3, workers=1, args={}, frame_step=1,
                cameras=1)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def run(micro_run, tmp_path_factory):
    """A copy of the micro run (temporal models are written inside it)."""
    copy = tmp_path_factory.mktemp("temporal") / "run"
    shutil.copytree(micro_run, copy)
    return copy


def _planted(seq, tmp_path, subaction: int, seed: int, noise_mm: float = 40.0) -> dict:
    """The truth of ``seq``'s runs of one subaction plus planted noise, as predictions."""
    from c2f.data import H5Source

    src = H5Source(seq)
    cols = {k: src.column(k) for k in ("subject", "action", "subaction", "camera", "frame")}
    keep = np.flatnonzero(cols["subaction"] == subaction)
    cam = src.column("joints_cam")[keep]
    truth = (cam - cam[:, :1]).astype(np.float32)
    rng = np.random.default_rng(seed)
    pred = {"pred_mm": truth + rng.normal(0, noise_mm, truth.shape).astype(np.float32),
            "coords": np.full((len(keep), 17, 3), 32.0, np.float32),
            "confidence": np.full((len(keep), 17), 0.5, np.float32), "joints_rel_mm": truth,
            "heatmap_px": np.int64(64), **{k: v[keep] for k, v in cols.items()}}  # fmt: skip
    np.savez(tmp_path / f"planted{subaction}.npz", **pred)
    return pred


def _mpjpe(a, b) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


def test_planted_noise_is_learned_resumed_exactly_and_evaluated(run, seq, tmp_path, capsys):
    from c2f.config import override
    from c2f.evaluation.temporal import sequences
    from c2f.temporal.run import TemporalRun
    from c2f.temporal.windows import frame_features
    from c2f.train.temporal import train_temporal

    _planted(seq, tmp_path, 1, seed=0)
    cfg = override(TemporalRun(), [*TINY, "steps=200", "model.width=128"])
    whole = train_temporal(run, cfg, name="planted", predictions=tmp_path / "planted1.npz",
                           progress=False)  # fmt: skip
    part = train_temporal(run, cfg, name="resumed", predictions=tmp_path / "planted1.npz",
                          progress=False, stop_after=90)  # fmt: skip
    assert part["step"] == 90
    rest = train_temporal(run, cfg, name="resumed", predictions=tmp_path / "planted1.npz",
                          progress=False)  # fmt: skip
    assert rest["step"] == whole["step"] == 200
    assert rest["refined_mm"] == whole["refined_mm"]  # the same weights: the same numbers
    # Held out (the other subaction's runs, another noise draw): below the no-op's error.
    test = _planted(seq, tmp_path, 2, seed=1)
    runs = sequences({k: test[k] for k in ("subject", "action", "subaction", "camera", "frame")})
    feats = frame_features(test["pred_mm"], test["coords"][..., :2], test["confidence"], 64)
    _, model, meta = load(run, "planted")
    assert meta["step"] == 200
    refined = Refiner(model).refine(feats, runs)
    before, after = (
        _mpjpe(test["pred_mm"], test["joints_rel_mm"]),
        _mpjpe(refined, test["joints_rel_mm"]),
    )
    assert np.isfinite(after) and after < 0.9 * before, (before, after)
    # c2f eval --temporal: the model's rows beside the filter's, on the run's own predictions.
    argv = ["eval", "--workdir", str(run), "--data", str(seq), "--protocol", "all-frames",
            "--no-mesh", "--smooth", "savgol", "--temporal", "planted"]  # fmt: skip
    assert c2f_main(argv) == 0
    report = sorted((run / "eval").glob("*temporal-planted.json"))[-1]
    rows = json.loads(report.read_text())
    text = json.dumps(rows)
    for row in (
        "Protocol 1 (MPJPE), temporal planted",
        "Accel error (mm/frame^2), temporal planted",
        "Protocol 1 (MPJPE), savgol",
        "MPJVE (mm/frame), temporal planted",
    ):
        assert row in text, row
    assert "temporal planted" in capsys.readouterr().out


def test_train_temporal_on_the_runs_predictions_and_video(run, seq, clip, tmp_path, capsys):
    argv = ["train-temporal", "--workdir", str(run), "--data", str(seq), "--causal",
            "--set", *TINY, "steps=20"]  # fmt: skip
    assert c2f_main(argv) == 0
    folder = run_folder(run, "dilated-causal")
    assert manager(folder, create=False).latest_step() == 20
    assert [json.loads(x)["step"] for x in (folder / "metrics.jsonl").open()][:2] == [10, 20]
    assert len(list((run / "temporal").glob("predictions-seq-step*.npz"))) == 1  # cached
    # Another config under the same name: refused, naming the field.
    assert c2f_main([*argv[:-1], "steps=30", "model.width=64"]) == 2
    assert "model.width 32 -> 64; steps 20 -> 30" in capsys.readouterr().err
    # c2f video --temporal: the refined joints saved, and (causal) equal to a live stream's.
    out = tmp_path / "v.mp4"
    assert c2f_main(["video", str(clip), "--workdir", str(run), "--out", str(out),
                     "--box", "5,10,90,75", "--temporal", "dilated-causal"]) == 0  # fmt: skip
    saved = np.load(out.with_suffix(".npz"))
    assert str(saved["temporal"]) == "dilated-causal"
    assert saved["joints_3d"].shape == (12, 17, 3)
    from c2f import Predictor
    from c2f.serving.temporal import TemporalPredictor

    predictor = Predictor.from_checkpoint(run)
    live = TemporalPredictor.from_run(run, "dilated-causal")
    stream = live.stream()
    frames = np.stack(_frames(clip)[:4])  # one call of 4 (a bucket the video compiled)
    batch = predictor(frames, boxes=[(5, 10, 90, 75)] * 4)
    outs = [{k: v[i] for k, v in batch.items()} for i in range(4)]
    streamed = np.stack([stream.push(o) for o in outs])
    offline = live.refine({k: np.stack([o[k] for o in outs]) for k in outs[0]})
    np.testing.assert_allclose(streamed, offline, atol=1e-3)
    from flax import nnx

    from c2f.temporal import TemporalConfig, TemporalModel

    centred = TemporalModel(TemporalConfig(window=9, depth=1, width=8), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="train a causal one"):
        TemporalPredictor(centred, 64).stream()
    # c2f export --temporal: its own artifact, equal to the model on the same windows.
    from c2f.serving.deploy.temporal import TemporalArtifact

    artifact = tmp_path / "t.stablehlo"
    assert (
        c2f_main(
            [
                "export",
                "--workdir",
                str(run),
                "--format",
                "stablehlo",
                "--temporal",
                "dilated-causal",
                "--out",
                str(artifact),
                "--platforms",
                "cpu",
            ]
        )
        == 0
    )
    exported = TemporalArtifact(artifact)
    assert exported.meta["causal"] and exported.meta["window"] == 9
    windows = live.features({k: np.stack([o[k] for o in outs]) for k in outs[0]})
    windows = np.stack([windows[np.clip(np.arange(t - 8, t + 1), 0, 3)] for t in range(4)])
    np.testing.assert_allclose(exported(windows), live.refiner.windows(windows), atol=1e-3)
    np.testing.assert_allclose(exported(windows), streamed, atol=1e-3)


def _frames(path):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_the_volume_confidence_known_answers():
    j, d, h, w = 2, 4, 16, 16
    logits = np.full((j, d, h, w), -1e4, np.float32)
    logits[0, 1, 5, 7] = 0.0  # all the mass in one voxel
    logits[1] = 0.0  # flat
    coords = np.array([[7.0, 5.0, 1.0], [7.0, 5.0, 1.0]], np.float32)
    conf = np.asarray(peak_mass(logits, coords))
    assert conf[0] == pytest.approx(1.0, abs=1e-6)
    assert conf[1] == pytest.approx(25 / (h * w), rel=1e-5)  # a 5 x 5 window of a flat plane
    far = np.array([[12.0, 12.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    assert np.asarray(peak_mass(logits, far))[0] == pytest.approx(0.0, abs=1e-6)
    heat = np.zeros((j, d, h, w), np.float32)
    heat[0, 2, 3, 3], heat[1, 0, 0, 0] = 0.7, 1.8
    np.testing.assert_allclose(np.asarray(peak_value(heat)), [0.7, 1.0])


def test_read_predictions_names_the_field(tmp_path):
    from c2f.train.temporal import read_predictions

    bad = tmp_path / "p.npz"
    np.savez(bad, pred_mm=np.zeros((3, 17, 3)))
    with pytest.raises(ValueError, match="has no 'coords'"):
        read_predictions(bad, 17)
    n = np.zeros(3)
    np.savez(bad, pred_mm=np.zeros((3, 17, 3)), coords=np.zeros((3, 17, 3)),
             confidence=np.zeros((3, 16)), joints_rel_mm=np.zeros((3, 17, 3)), subject=n,
             action=n, subaction=n, camera=n, frame=n, heatmap_px=64)  # fmt: skip
    with pytest.raises(ValueError, match="'confidence' is \\(3, 16\\), expected \\(3, 17\\)"):
        read_predictions(bad, 17)
