import json

import numpy as np
import pytest

from c2f.data import BatchSpec, H5Source, Loader
from c2f.data.mixture import Mixture, parse_mix
from c2f.data.subset import without_actions
from c2f.skeleton import H36M17


def test_parse_mix_names_what_is_wrong():
    assert parse_mix(("a/b.h5:0.5", "c.h5:0.25"), 8) == [("a/b.h5", 4), ("c.h5", 2)]
    for bad, match in ((("a.h5",), "not 'PATH:SHARE'"), (("a.h5:1.5",), "not 'PATH:SHARE'"),
                       (("a.h5:0.01",), "less than one sample"),
                       (("a.h5:0.5", "b.h5:0.5"), "needs at least one")):  # fmt: skip
        with pytest.raises(ValueError, match=f"data.mix: .*{match}"):
            parse_mix(bad, 8)
    # A bad mix fails when the configuration is made, before any training.
    from c2f.config import apply_overrides, load_config

    with pytest.raises(ValueError, match="data.mix: 'x.h5:2' is not 'PATH:SHARE'"):
        apply_overrides(load_config("tiny"), ["data.mix=('x.h5:2',)"])


def test_mixed_batches_keep_their_shares_and_depend_on_seed_and_step(synthetic_split):
    main = H5Source(synthetic_split)
    other = without_actions(H5Source(synthetic_split), ("Walking",))  # 112 samples
    mix = Mixture([main, other], [6, 2])
    spec = BatchSpec(batch_size=8, input_res=32, output_res=8, seed=3)
    loader = Loader(mix, spec)
    first = loader.indices(5)
    assert np.all(first[:6] < 120) and np.all(first[6:] >= 120)
    assert np.array_equal(Loader(Mixture([main, other], [6, 2]), spec).indices(5), first)
    # The small source runs through its own epochs: 56 steps cover each of its 112 samples.
    seen = np.concatenate([loader.indices(s)[6:] for s in range(56)])
    assert sorted(seen - 120) == list(range(112))
    batch = loader.batch(5)
    assert batch["image"].shape == (8, 32, 32, 3) and batch["mask_xy"].shape == (8, 17)
    k, i = mix.locate(int(first[7]))
    assert k == 1 and mix.describe(int(first[7])) == f"{other.path}: sample {i}"
    with pytest.raises(ValueError, match="makes shuffled batches of 8, not 4"):
        Loader(mix, BatchSpec(batch_size=4, input_res=32, output_res=8))


def test_training_with_a_mixed_in_file_and_a_held_out_action(micro_cfg, tiny_data, tmp_path,
                                                               capsys):  # fmt: skip
    from c2f.config import apply_overrides
    from c2f.train.loop import train
    from tests.small import MICRO_RUN

    mix = f"data.mix=({str(tiny_data / 'test.h5') + ':0.25'!r},)"
    held = "data.hold_out_actions=('Walking', 'Sitting')"
    cfg = apply_overrides(micro_cfg, [*MICRO_RUN, "train.steps=2", mix, held])
    out = train(cfg, tmp_path, progress=False)
    assert out["step"] == 2
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train/loss" in r] == [1, 2]
    # Evaluation reports the held-out actions apart (text and JSON).
    import eval as eval_cli

    assert eval_cli.main(["--workdir", str(tmp_path)]) == 0
    assert "held out of training (2 actions, 16 samples): MPJPE" in capsys.readouterr().out
    (report,) = (tmp_path / "eval").glob("*.json")
    groups = json.loads(report.read_text())["groups"]
    assert groups["trained on"]["samples"] == 104 and len(groups["trained on"]["actions"]) == 13


def test_the_integral_mpii_recipe_is_half_mpii():
    from c2f.config import load_config

    cfg = load_config("integral_mpii")
    assert parse_mix(cfg.data.mix, cfg.train.batch_size) == [("data/mpii/train.h5", 16)]
    assert cfg.loss.l1_weight == 1.0 and cfg.loss.mse_weight == 0.0


def test_strip_3d_makes_a_2d_only_copy_of_some_actions(synthetic_split, tmp_path, capsys):
    from c2f.data import make_example
    from c2f.data.augment import Augmentation
    from c2f.geometry import DepthBins
    from data_prep.strip_3d import main

    out = tmp_path / "walk_2d.h5"
    assert main(["--data", str(synthetic_split), "--actions", "Walking", "--out", str(out)]) == 0
    source, original = H5Source(out), H5Source(synthetic_split)
    walking = np.flatnonzero(original.column("action") == original.action_names.index("Walking"))
    assert len(source) == len(walking) == 8 and source.source == "synthetic-2d"
    assert not source.column("valid_3d").any() and source.column("valid_2d").all()
    np.testing.assert_array_equal(source.column("joints_2d"), original.column("joints_2d")[walking])
    ex = make_example(source[0], Augmentation(), stored_res=128, input_res=64, output_res=16,
                      depth_bins=DepthBins(), skeleton=H36M17)  # fmt: skip
    assert not ex["mask"].any() and ex["mask_xy"].sum() >= 15
    argv = ["--data", str(synthetic_split), "--actions", "Dancing", "--out", str(out)]
    assert main([*argv, "--overwrite"]) == 2
    assert "--actions: ['Dancing'] not among" in capsys.readouterr().err
