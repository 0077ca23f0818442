"""The house: imports only go down the layers below, and no module imports itself in a circle.

Read from the source with ``ast`` (every import, at module top or inside a function), so the
test needs no import of the package and sees lazy imports too.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own layer or a lower one; a package prefix covers its
# submodules. The package root ``c2f`` is the public facade (it re-exports the Predictor), so
# it sits on top; ``from c2f import grid`` is an import of ``c2f.grid``, not of the facade.
LAYERS = (
    (
        "foundation",
        (
            "c2f.array_api",
            "c2f.checks",
            "c2f.grid",
            "c2f.sharding",
            "c2f.skeleton",
            "c2f.h36m",
            "c2f.outputs",
            "c2f.signals",
            "c2f.archives",
            "c2f.saving",
        ),
    ),  # fmt: skip
    ("math", ("c2f.geometry", "c2f.volume", "c2f.losses", "c2f.optim")),
    ("body model", ("c2f.body",)),
    ("model and data", ("c2f.model", "c2f.data", "c2f.temporal")),
    ("shared by evaluation and serving", ("c2f.reconstruct", "c2f.inference")),
    ("evaluation", ("c2f.evaluation",)),
    ("configuration and checkpoints", ("c2f.config", "c2f.checkpoint")),
    ("serving", ("c2f.serving",)),
    ("training", ("c2f.train",)),
    ("recipes", ("c2f.configs",)),
    ("converters", ("data_prep",)),
    ("commands", ("c2f.cli", "c2f.__main__", "c2f")),
)


def module_names() -> dict:
    out = {}
    for top in ("c2f", "data_prep"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(name: str, path: pathlib.Path, known: dict) -> set:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            # "from pkg import sub" imports the submodule when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer(name: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                # the longest prefix decides ("c2f" is only the facade itself)
                if prefix == "c2f" and name != "c2f":
                    continue
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{name}: in no layer of tests/test_layers.py"
    return best[0]


def test_every_import_goes_down_or_stays_in_its_layer():
    wrong = []
    for name, targets in graph().items():
        for target in targets:
            if layer(target) > layer(name):
                wrong.append(f"{name} ({LAYERS[layer(name)][0]}) imports {target} "
                             f"({LAYERS[layer(target)][0]})")  # fmt: skip
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circles():
    edges = graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            # a package's __init__ importing its own submodules is no circle of concepts
            if len(component) > 1 and not _package_and_members(component):
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def _package_and_members(component) -> bool:
    """A package and its submodules only, where the members import nothing of the package
    but each other (e.g. ``c2f.model`` re-exporting ``c2f.model.c2f_pose``)."""
    packages = [c for c in component if any(o.startswith(c + ".") for o in component)]
    return len(packages) == 1 and all(c.startswith(packages[0]) for c in component)


def test_the_layer_test_sees_a_wrong_import(tmp_path):
    # The checker itself: an upward import and a circle planted in a copy are both found.
    known = {"c2f.grid": tmp_path / "grid.py", "c2f.serving.video": tmp_path / "video.py"}
    known["c2f.grid"].write_text("from c2f.serving import video\n")
    known["c2f.serving.video"].write_text("from c2f import grid\n")
    assert imports_of("c2f.grid", known["c2f.grid"], known) == {"c2f.serving.video"}
    assert imports_of("c2f.serving.video", known["c2f.serving.video"], known) == {"c2f.grid"}
    assert layer("c2f.serving.video") > layer("c2f.grid")
