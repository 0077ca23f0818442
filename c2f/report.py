"""Result tables: Protocol 1 and 2 per action, in the paper's column order."""

from c2f.h36m import ACTION_ABBREVIATIONS, ACTIONS
from c2f.metrics import ActionTable

# Pavlakos et al. 2017, Table (Human3.6M, Protocol 1, MPJPE in mm). Their average, 71.9, is
# over frames (c2f-vol-demo errorH36M.m: mean(cell2mat(E3D_all))): it goes in the "Weighted"
# column; the mean of the 15 published per-action numbers is 71.5.
_PAPER_ACTIONS_MM = (67.4, 71.9, 66.7, 69.1, 72.0, 77.0, 65.0, 68.3, 83.7, 96.5, 71.7, 65.8,
                     74.9, 59.1, 63.2)  # fmt: skip
PAPER_P1_MM = {
    **dict(zip(ACTIONS, _PAPER_ACTIONS_MM)),
    "Avg": round(sum(_PAPER_ACTIONS_MM) / len(_PAPER_ACTIONS_MM), 1),
    "Weighted": 71.9,
}
LEGEND = "Avg: mean of the per-action means; Weighted: mean over all frames."


def _row(table: ActionTable | dict) -> dict:
    if isinstance(table, ActionTable):
        return {**table.per_action, "Avg": table.mean_over_actions, "Weighted": table.weighted}
    return dict(table)


def markdown(rows: dict) -> str:
    """A Markdown table: one row per entry of ``rows`` (name -> ActionTable or {column: mm})."""
    rows = {name: _row(t) for name, t in rows.items()}
    actions = [a for a in ACTIONS if any(a in r for r in rows.values())]
    columns = [*actions, "Avg", "Weighted"]
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
    from c2f.protocols import headline

    table = result["p1"] if protocol.metric == "mpjpe" else result["p2"]
    name = "MPJPE" if protocol.metric == "mpjpe" else "PA-MPJPE"
    over = "all frames" if protocol.average == "frames" else "actions"
    return (
        f"Headline ({protocol.name}): {name} {headline(table, protocol):.1f} mm (mean over {over})"
    )
