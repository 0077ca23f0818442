"""Result tables: Protocol 1 and 2 per action, in the paper's column order."""

from c2f.h36m import ACTION_ABBREVIATIONS, ACTIONS
from c2f.metrics import ActionTable

# Pavlakos et al. 2017, Table (Human3.6M, Protocol 1, MPJPE in mm).
PAPER_P1_MM = dict(
    zip(
        (*ACTIONS, "Avg"),
        (67.4, 71.9, 66.7, 69.1, 72.0, 77.0, 65.0, 68.3, 83.7, 96.5, 71.7, 65.8, 74.9, 59.1, 63.2,
         71.9),
    )
)  # fmt: skip


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
