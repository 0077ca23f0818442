"""The video command on a tiny clip: predictions, filtering, drawing, and a corrupt input."""

import json

import av
import numpy as np
import pytest

from c2f.serving import video


def _frames(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_video_command_draws_every_kept_frame_and_filters(clip, micro_run, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    rng = np.random.default_rng(0)
    truth = {"joints_cam": rng.normal(0, 300, (12, 17, 3)) + [0, 0, 4000],
             "joints_2d": rng.uniform(0, 80, (12, 17, 2))}  # fmt: skip
    np.savez(tmp_path / "truth.npz", **truth)
    argv = [str(clip), "--workdir", str(micro_run), "--out", str(out), "--every", "2",
            "--batch", "4", "--smooth", "savgol", "--box", "5,10,90,75",
            "--truth", str(tmp_path / "truth.npz")]  # fmt: skip
    assert video.main(argv) == 0
    drawn = _frames(out)
    assert len(drawn) == 6 and drawn[0].shape == (80, 96 + 2 * 80, 3)
    saved = np.load(out.with_suffix(".npz"))
    assert list(saved["frame"]) == [0, 2, 4, 6, 8, 10] and saved["joints_3d"].shape == (6, 17, 3)
    assert float(saved["fps"]) == pytest.approx(12.5)
    # Savitzky-Golay with 6 frames uses a 5-frame window: a smoothed copy, not the raw joints.
    assert not np.allclose(saved["joints_3d"], saved["joints_3d_raw"])
    assert np.abs(saved["joints_2d"] - saved["joints_2d_raw"]).max() < 40
    assert "6 frames, filtered by savgol" in capsys.readouterr().out
    # --truth: the errors of the kept frames (0, 2, ..., 10) against the root-relative truth.
    errors = json.loads(out.with_suffix(".json").read_text())
    gt = truth["joints_cam"][::2] - truth["joints_cam"][::2, :1]
    for name, key in (("raw", "_raw"), ("filtered", "")):
        pred = saved["joints_3d" + key]
        expected = np.linalg.norm(pred - gt, axis=-1).mean()
        assert errors[name]["mpjpe_mm"] == pytest.approx(expected, rel=1e-5)
        accel = lambda x: x[:-2] - 2 * x[1:-1] + x[2:]  # noqa: E731
        rel = pred - pred[:, :1]
        expected = np.linalg.norm(accel(rel) - accel(gt), axis=-1).mean()
        assert errors[name]["accel_error_mm_per_frame2"] == pytest.approx(expected, rel=1e-5)
        expected = np.linalg.norm(saved["joints_2d" + key] - truth["joints_2d"][::2], axis=-1)
        assert errors[name]["error_2d_px"] == pytest.approx(expected.mean(), rel=1e-5)
    short = tmp_path / "short.npz"
    np.savez(short, joints_cam=truth["joints_cam"][:5], joints_2d=truth["joints_2d"][:5])
    argv[-1] = str(short)
    assert video.main([*argv, "--overwrite"]) == 2  # the same outputs again
    assert "--truth: holds 5 frames, the video has 11" in capsys.readouterr().err


def test_bad_inputs_and_a_corrupt_frame(clip, micro_run, tmp_path, monkeypatch, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    out = tmp_path / "o.mp4"
    assert video.main([str(text), "--workdir", str(micro_run), "--out", str(out)]) == 2
    assert "notes.mp4: cannot open as a video" in capsys.readouterr().err
    assert video.main([str(clip), "--workdir", str(micro_run), "--out", str(out),
                       "--box", "1,2,3"]) == 2  # fmt: skip
    assert "--box: expected 4" in capsys.readouterr().err
    # Decoding fails at frame 7: the 7 frames before it are predicted, drawn and saved.
    real = video.read_frames

    def failing(path, every=1):
        for i, frame in real(path, every):
            if i == 7:
                raise video.FrameError(f"{path}: frame 8 cannot be decoded (test)")
            yield i, frame

    monkeypatch.setattr(video, "read_frames", failing)
    # --batch 4: the bucket the first test compiled (7 frames: 4 + 3 padded to 4).
    argv = [str(clip), "--workdir", str(micro_run), "--out", str(out), "--batch", "4"]
    assert video.main(argv) == 3
    assert "frame 8 cannot be decoded" in capsys.readouterr().err
    assert len(_frames(out)) == 7 and len(np.load(out.with_suffix(".npz"))["frame"]) == 7


def test_mp4_writer_publishes_only_a_finished_file(tmp_path):
    from c2f.serving.mp4 import Mp4Writer

    out = tmp_path / "w.mp4"
    frame = np.zeros((32, 48, 3), np.uint8)
    with pytest.raises(KeyError):  # the writing code fails: nothing is published
        with Mp4Writer(out, 25) as w:
            w.write(frame)
            raise KeyError("stop")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="w.mp4: encoding failed"):  # the encoder fails
        with Mp4Writer(out, 25) as w:
            w.write(np.zeros((32, 48), np.uint8))  # not RGB
    assert list(tmp_path.iterdir()) == []
    with Mp4Writer(out, 25) as w:
        for _ in range(3):
            w.write(frame)
    assert len(_frames(out)) == 3 and [p.name for p in tmp_path.iterdir()] == ["w.mp4"]
