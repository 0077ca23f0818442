import numpy as np
import pytest

from c2f.config import DataConfig
from c2f.data import H5Source
from c2f.data.subset import without_actions
from c2f.evaluation.report import action_groups, groups_text


def test_held_out_actions_leave_the_training_source(synthetic_split):
    source = H5Source(synthetic_split)
    assert without_actions(source, ()) is source
    held = ("Walking", "Sitting")
    subset = without_actions(source, held)
    codes = [source.action_names.index(a) for a in held]
    actions = source.column("action")
    assert len(subset) == len(source) - np.isin(actions, codes).sum() == 120 - 16
    assert not np.isin(subset.column("action"), codes).any()
    k = int(subset.indices[7])
    assert subset[7]["image"].tobytes() == source[k]["image"].tobytes()
    assert subset.crop_res == source.crop_res and str(synthetic_split) in subset.path
    with pytest.raises(IndexError, match="out of range"):
        subset[len(subset)]
    with pytest.raises(ValueError, match=r"data.hold_out_actions: \['Dancing'\]"):
        without_actions(source, ("Dancing",))
    with pytest.raises(ValueError, match="leaves no sample"):
        without_actions(source, source.action_names)
    with pytest.raises(ValueError, match="hold_out_actions"):
        DataConfig(hold_out_actions="Walking")


def test_action_groups_average_the_held_out_and_the_trained_actions_apart():
    names = ("A", "B", "C")
    result = {
        "action": np.array([0, 0, 0, 1, 2]),
        "mpjpe": np.array([10.0, 20.0, 30.0, 100.0, 50.0]),
        "pa_mpjpe": np.array([1.0, 2.0, 3.0, 10.0, 5.0]),
    }
    groups = action_groups(result, names, ("B",))
    held, trained = groups["held out of training"], groups["trained on"]
    assert held == {"actions": ["B"], "samples": 1, "mpjpe_mm": 100.0,
                    "mpjpe_actions_mm": 100.0, "pa_mpjpe_mm": 10.0,
                    "pa_mpjpe_actions_mm": 10.0}  # fmt: skip
    assert trained["samples"] == 4 and trained["mpjpe_mm"] == pytest.approx(27.5)
    assert trained["mpjpe_actions_mm"] == pytest.approx((20.0 + 50.0) / 2)
    assert "held out of training (1 actions, 1 samples): MPJPE 100.0 mm" in groups_text(groups)
    assert list(action_groups(result, names, ("D",))) == ["trained on"]
