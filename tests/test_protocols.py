"""Evaluation protocols: selection, presets through eval.py, and their error floors."""

import json

import numpy as np
import pytest

from c2f.evaluation import protocols
from c2f.evaluation.floor import floor_errors, load_annot_mat
from c2f.inference import decode, unflip_volume
from c2f.skeleton import H36M17


def test_selection_by_subject_and_frame():
    subject = np.array([9, 9, 11, 11, 11, 1])
    frame = np.array([0, 5, 64, 65, 128, 0])
    assert list(protocols.select(protocols.get("paper"), subject, frame)) == [0, 1, 3]
    assert list(protocols.select(protocols.get("p2-s11"), subject, frame)) == [2, 4]
    with pytest.raises(ValueError, match="no sample of S11.*multiple of 64.*'S9'"):
        protocols.select(protocols.get("p2-s11"), subject[:2], frame[:2], "x.h5")
    with pytest.raises(ValueError, match="protocol: one of"):
        protocols.get("paper-ish")
    with pytest.raises(ValueError, match="decode: one of"):
        protocols.check_decode("hrad")


def test_volume_flip_and_plain_argmax():
    rng = np.random.default_rng(0)
    vol = rng.uniform(size=(2, 17, 4, 8, 8)).astype(np.float32)
    back = np.asarray(unflip_volume(unflip_volume(vol, H36M17), H36M17))
    np.testing.assert_array_equal(back, vol)  # mirroring twice is the identity
    peak = np.zeros((1, 17, 4, 8, 8), np.float32)
    peak[0, :, 2, 5, 3] = 1.0
    peak[0, :, 2, 5, 4] = 0.9  # the refined argmax moves towards it; the plain one does not
    plain, refined = np.asarray(decode(peak, "argmax")), np.asarray(decode(peak, "hard"))
    np.testing.assert_array_equal(plain[0, 0], [3.0, 5.0, 2.0])
    assert 3.0 < refined[0, 0, 0] <= 3.5


def test_error_floor_on_the_authors_real_frames(shared_data):
    # 394 real S9 frames (c2f-vol-demo valid.mat). Perfect predictions read at voxel centres
    # with the root depth from the training mean bone lengths leave ~29 mm; continuous ones
    # ~22 mm (S9's bones are longer than the mean); with the true root depth only the voxel
    # quantisation remains.
    samples = load_annot_mat(shared_data / "c2f_vol_demo/data/h36m-sample/annot/valid.mat")
    assert len(samples["joints_cam"]) == 394
    argmax_bones = floor_errors(samples, "argmax", "bones", skeleton=H36M17)[0].mean()
    soft_bones = floor_errors(samples, "soft", "bones", skeleton=H36M17)[0].mean()
    argmax_gt, _ = floor_errors(samples, "argmax", "gt", skeleton=H36M17)
    soft_gt, _ = floor_errors(samples, "soft", "gt", skeleton=H36M17)
    assert 27.5 < argmax_bones < 30.5 and 21.0 < soft_bones < 23.5
    # Voxels of ~27 mm (a heatmap px at 5 m) by 31 mm: ~17 mm; continuous + true root: exact.
    assert 12.0 < argmax_gt.mean() < 20.0 and soft_gt.max() < 0.5
    with pytest.raises(ValueError, match="root"):
        floor_errors(samples, "argmax", "guess", skeleton=H36M17)
    with pytest.raises(ValueError, match="decode"):
        floor_errors(samples, "argmaks", "gt", skeleton=H36M17)


def test_eval_protocol_presets(tiny_run, capsys):
    import eval as eval_cli

    assert eval_cli.main(["--workdir", str(tiny_run), "--protocol", "paper", "--every", "4"]) == 0
    out = capsys.readouterr().out
    assert "Protocol 'paper'" in out and "Headline (paper): MPJPE" in out
    record = json.loads(
        next((tiny_run / "eval").glob("*_paper_argmax_flip-volumes_root-bones*.json")).read_text()
    )
    assert record["decode"] == "argmax" and record["root"] == "bones" and record["modified"] == []
    # The synthetic file is not Human3.6M: the published row is not shown.
    assert "Pavlakos et al. 2017 (published)" not in record["tables"]
    # The tiny test split holds S9 only: p2-s11 fails before any work, naming the file.
    assert eval_cli.main(["--workdir", str(tiny_run), "--protocol", "p2-s11"]) == 2
    assert "no sample of S11" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # argparse's choices: the table's names
        eval_cli.main(["--workdir", str(tiny_run), "--protocol", "nope"])
    assert exit_.value.code == 2
