"""What a resumed run must agree with: the checkpoint's config and its record of evaluations.

A checkpoint owns the config it was trained with (:mod:`c2f.checkpoint`). Resuming it with a
config that changes the experiment is refused, naming the fields, unless the caller accepts the
change (``train.py --allow-config-change``), which is then recorded in the log. Fields that
only say how long to run, how often to log or save, or where the data lives may change freely.
"""

import dataclasses
import json
import os
import pathlib

from c2f.checkpoint import run_config

# Fields that do not change what is trained: run longer, log or save at other intervals,
# move the data, use more or fewer loader processes.
FREE_FIELDS = frozenset({
    "train.steps", "train.log_every", "train.checkpoint_every", "train.keep_checkpoints",
    "train.image_summaries", "train.eval_every", "data.root", "data.workers",
})  # fmt: skip

EVALUATIONS = "evaluations.jsonl"


class ConfigChanged(ValueError):
    """Resuming a workdir with a config that differs from its checkpoint's."""


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = tuple(value) if isinstance(value, list) else value
    return out


def config_differences(old, new) -> dict:
    """{field: (old, new)} of two configs (dotted field names)."""
    a, b = _flatten(dataclasses.asdict(old)), _flatten(dataclasses.asdict(new))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def check_resume_config(workdir, meta: dict, cfg, allow: bool = False) -> list[str]:
    """Compare ``cfg`` with the config of the checkpoint being resumed.

    Returns:
      The accepted changes, as "field: old -> new" lines (empty when the configs agree).

    Raises:
      ConfigChanged: naming the differing fields, unless they are all free or ``allow``.
    """
    diffs = config_differences(run_config(workdir, meta), cfg)
    lines = [f"{k}: {old!r} -> {new!r}" for k, (old, new) in diffs.items()]
    binding = [k for k in diffs if k not in FREE_FIELDS]
    if binding and not allow:
        raise ConfigChanged(
            f"{workdir}: this config differs from the one its checkpoint at step "
            f"{meta.get('step')} was trained with, in "
            + "; ".join(line for k, line in zip(diffs, lines) if k in binding)
            + ". Use a new --workdir, or pass --allow-config-change to resume anyway "
            "(the change is recorded in metrics.jsonl)."
        )
    return lines


def evaluated_steps(workdir) -> set[int]:
    """Steps whose evaluation finished (and was offered as the best checkpoint)."""
    path = pathlib.Path(workdir) / EVALUATIONS
    if not path.is_file():
        return set()
    steps = set()
    for line in path.read_text().splitlines():
        try:
            steps.add(int(json.loads(line)["step"]))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a kill
    return steps


def record_evaluation(workdir, step: int, scalars: dict) -> None:
    """Append that ``step`` was evaluated (after its best checkpoint was written)."""
    with open(pathlib.Path(workdir) / EVALUATIONS, "a") as f:
        f.write(json.dumps({"step": step, **scalars}) + "\n")
        f.flush()
        os.fsync(f.fileno())
