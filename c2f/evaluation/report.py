"""Result tables: Protocol 1 and 2 per action, in the paper's column order."""

import hashlib
import json
import pathlib

import numpy as np

from c2f.evaluation.metrics import ActionTable, per_action
from c2f.evaluation.protocols import headline
from c2f.h36m import ACTION_ABBREVIATIONS, ACTIONS
from c2f.outputs import replacing

LEGEND = "Avg: mean of the per-action means; Weighted: mean over all frames."


SUMMARY = ("Avg", "Weighted")  # the last columns of every table


def _row(table: ActionTable | dict) -> dict:
    if isinstance(table, ActionTable):
        return {**table.per_action, "Avg": table.mean_over_actions, "Weighted": table.weighted}
    return dict(table)


def markdown(rows: dict) -> str:
    """A Markdown table: one row per entry of ``rows`` (name -> ActionTable or {column: mm})."""
    rows = {name: _row(t) for name, t in rows.items()}
    actions = [a for a in ACTIONS if any(a in r for r in rows.values())]
    others = [c for r in rows.values() for c in r if c not in ACTIONS and c not in SUMMARY]
    columns = [*actions, *dict.fromkeys(others), *SUMMARY]
    heads = [ACTION_ABBREVIATIONS.get(c, c) for c in columns]
    lines = ["| | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(columns)]
    for name, r in rows.items():
        cells = [f"{r[c]:.1f}" if c in r else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_json(rows: dict) -> dict:
    """The same rows as plain dicts (plus frame counts for ActionTables)."""
    out = {}
    for name, t in rows.items():
        out[name] = _row(t)
        if isinstance(t, ActionTable):
            out[name + " frames"] = t.frames
    return out


def headline_line(result: dict, protocol) -> str:
    """The protocol's headline number, named: e.g. "Headline (paper): MPJPE 71.9 mm ..."."""
    table = result["p1"] if protocol.metric == "mpjpe" else result["p2"]
    name = "MPJPE" if protocol.metric == "mpjpe" else "PA-MPJPE"
    over = "all frames" if protocol.average == "frames" else "actions"
    return (
        f"Headline ({protocol.name}): {name} {headline(table, protocol):.1f} mm (mean over {over})"
    )


def action_groups(result: dict, action_names, held_out) -> dict:
    """Errors of the actions held out of training and of the others (mm).

    Args:
      result: an evaluation (:func:`c2f.evaluation.evaluate.evaluate`): per-sample ``action``,
      ``mpjpe``
        and ``pa_mpjpe``.
      action_names: the data file's action names.
      held_out: the run's ``data.hold_out_actions``.

    Returns:
      ``{"held out of training": g, "trained on": g}`` (a group only when it has samples),
      each ``g`` with its ``actions``, ``samples``, and MPJPE / PA-MPJPE averaged over its
      samples (``mpjpe_mm``, ``pa_mpjpe_mm``) and over its actions (``*_actions``).
    """
    names = np.asarray([action_names[int(a)] for a in result["action"]])
    held = np.isin(names, list(held_out))
    groups = {}
    for label, mask in (("held out of training", held), ("trained on", ~held)):
        if not mask.any():
            continue
        actions = sorted(set(names[mask]))
        group = {"actions": actions, "samples": int(mask.sum())}
        for key in ("mpjpe", "pa_mpjpe"):
            table = per_action(np.asarray(result[key])[mask], names[mask])
            group[f"{key}_mm"] = table.weighted
            group[f"{key}_actions_mm"] = table.mean_over_actions
        groups[label] = group
    return groups


def groups_text(groups: dict) -> str:
    """One line per group of :func:`action_groups`."""
    return "\n".join(
        f"{label} ({len(g['actions'])} actions, {g['samples']} samples): MPJPE {g['mpjpe_mm']:.1f}"
        f" mm, PA-MPJPE {g['pa_mpjpe_mm']:.1f} mm over samples; {g['mpjpe_actions_mm']:.1f} / "
        f"{g['pa_mpjpe_actions_mm']:.1f} mm over actions"
        for label, g in groups.items()
    )


class ReportNotWritten(OSError):
    """Writing a finished evaluation's report failed; ``text`` holds the table to print."""

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


def report_name(step: int, protocol: str, options: dict, data) -> str:
    """The report's file name (no suffix): everything that chose its numbers and samples."""
    # The evaluated file's identity, not its stem alone: two files called test.h5 in different
    # folders must not overwrite each other's reports.
    identity = hashlib.sha256(str(pathlib.Path(data).resolve()).encode()).hexdigest()[:8]
    name = (f"step{step}_{protocol}_{options['decode']}_flip-{options['flip']}"
            f"_root-{options['root']}_{pathlib.Path(data).stem}-{identity}")  # fmt: skip
    if options.get("frames") == "all":
        name += "_all-frames"
    if options.get("every", 1) > 1:  # a subsample is another report, never the full one's
        name += f"_every-{options['every']}"
    if options.get("smooth", "none") != "none":
        name += f"_smooth-{options['smooth']}"
    if options.get("temporal"):  # the rows of these temporal models besides
        name += f"_temporal-{options['temporal']}"
    return name


def write_evaluation(out_dir, result: dict, *, protocol, options: dict, overridden: list[str],
                     data, step: int, source_kind: str, extra_rows: dict | None = None,
                     note: str = "", groups: dict | None = None) -> tuple[str, str]:  # fmt: skip
    """Write an evaluation's table as Markdown and JSON under ``out_dir``.

    The file name says what was measured: step, protocol, decode, flip, root, data file and the
    samples' selection (all frames, every N-th).
    The paper's published row is shown only when the protocol was not modified and the data
    is the real Human3.6M (``source_kind == "h36m"``). ``extra_rows`` (e.g. the temporal rows
    of :func:`c2f.evaluation.temporal.evaluation_rows`) follow the protocols' rows; ``note`` is
    added to the header, and so are ``groups`` (:func:`action_groups`), also kept in the JSON.

    Returns:
      (text printed for the user, path of the Markdown file without its suffix).
    """
    data = pathlib.Path(data)
    rows = {"Protocol 1 (MPJPE)": result["p1"], "Protocol 2 (PA-MPJPE)": result["p2"]}
    rows.update(extra_rows or {})
    if protocol.published and not overridden and source_kind == "h36m":
        rows["Pavlakos et al. 2017 (published)"] = protocol.published
    table = markdown(rows)
    name = report_name(step, protocol.name, options, data)
    modified = ", ".join(f"{k}={options[k]}" for k in overridden)
    header = (f"{protocol.definition}\n"
              + (f"Modified here: {modified}.\n" if overridden else "")
              + f"{len(result['mpjpe'])} samples of {data} at step {step}; {LEGEND}\n"
              + (f"{note}\n" if note else "")
              + (f"{groups_text(groups)}\n" if groups else "")
              + headline_line(result, protocol))  # fmt: skip
    out_dir = pathlib.Path(out_dir)
    record = {"data": str(data), "step": step, "samples": len(result["mpjpe"]),
              "protocol": protocol.name, "definition": protocol.definition,
              "modified": overridden, **options, "tables": to_json(rows),
              "groups": groups or {}}  # fmt: skip
    text = f"{header}\n{table}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with replacing(out_dir / f"{name}.md") as tmp:
            tmp.write_text(f"{header}\n\n{table}\n")
        with replacing(out_dir / f"{name}.json") as tmp:
            tmp.write_text(json.dumps(record, indent=1))
    except OSError as e:  # the work is done: the table still reaches the terminal
        raise ReportNotWritten(f"{out_dir}: the report could not be written ({e})", text) from e
    return text, str(out_dir / name)
