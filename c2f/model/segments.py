"""The network as a chain of segments, for a training step run as several programs.

Compiling the paper network's training step as one XLA program takes about 30 s on a CPU, and
most of it is the same work four times: every stage's inner hourglass has the same shapes.
Listed as segments, each a submodule and a function of named values, the network can be run
one compiled program per segment (:mod:`c2f.train.staged`), and segments of equal structure
and shapes share their program. The segments compute exactly what :class:`C2FPose` computes
(they call the same methods); every variable of the model belongs to exactly one segment.

Values: ``images`` in; ``x`` (a stage's input), ``previous`` ("stacked": the features the
next merge reads), ``up`` / ``low`` (an hourglass's two branches), ``hourglass``; ``head{k}``
[B, H, W, J * D_k] out.
"""

import dataclasses
from collections.abc import Callable

from c2f.model.config import ModelConfig

# How a training step is compiled, an extension point (name -> one line for help texts):
# ``TrainConfig.programs``'s validation, the docs and :func:`c2f.train.steps.make_train_step`.
PROGRAMS = {
    "one": "the whole step as one XLA program",
    "segments": "one program per segment of the network, equal segments sharing theirs",
}


@dataclasses.dataclass(frozen=True)
class Segment:
    """One program of a segmented step.

    Attributes:
      name: for messages, e.g. ``stage 2 inner hourglass``.
      path: the submodule, from the model's root (attribute names and list indices).
      run: ``(submodule, *values read) -> tuple of values written``; a module-level function,
        so that segments of equal structure share a compiled program.
      reads: names of the values it reads, in ``run``'s order.
      writes: names of the values it writes (replacing earlier values of the same name).
      skip: paths, relative to ``path``, of the submodule's parts that other segments own.
    """

    name: str
    path: tuple
    run: Callable
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    skip: tuple[tuple, ...] = ()


def _begin(model, images):
    x, previous = model.begin(images)
    return (x,) if previous is None else (x, previous)


def _call(module, x):
    return (module(x),)


def _open(hourglass, x):
    return hourglass.open(x)


def _close(stage, up, inner, previous):
    x, y, head = stage.finish(stage.hourglass.close(up, inner), previous)
    return (head,) if x is None else (x, y, head)


def _finish(stage, x, hourglass):
    x, head = stage.finish(x, hourglass)
    return (head,) if stage.last else (x, head)


def head_names(cfg: ModelConfig) -> tuple[str, ...]:
    """The names of the stages' heads, coarse to fine."""
    return tuple(f"head{k}" for k in range(len(cfg.depths)))


def segments(cfg: ModelConfig) -> list[Segment]:
    """The model's segments in the order they run (:class:`C2FPose`'s ``__call__``)."""
    heads = head_names(cfg)
    if cfg.design == "uniform":
        chain = [Segment("stem", (), _begin, ("images",), ("x",), skip=(("stages",),))]
        for k, head in enumerate(heads):
            last = k == len(heads) - 1
            stage = ("stages", k)
            chain += [
                Segment(f"stage {k} hourglass", (*stage, "hourglass"), _call, ("x",),
                        ("hourglass",)),
                Segment(f"stage {k} end", stage, _finish, ("x", "hourglass"),
                        (head,) if last else ("x", head), skip=(("hourglass",),)),
            ]  # fmt: skip
        return chain
    chain = [Segment("stem", (), _begin, ("images",), ("x", "previous"), skip=(("stages",),))]
    for k, head in enumerate(heads):
        last = k == len(heads) - 1
        stage, hourglass = ("stages", k), ("stages", k, "hourglass")
        chain += [
            Segment(f"stage {k} hourglass branches", hourglass, _open, ("x",), ("up", "low"),
                    skip=(("inner",), ("low_out",))),
            Segment(f"stage {k} inner hourglass", (*hourglass, "inner"), _call, ("low",),
                    ("low",)),
            Segment(f"stage {k} end", stage, _close, ("up", "low", "previous"),
                    (head,) if last else ("x", "previous", head),
                    skip=(("hourglass", "up"), ("hourglass", "low"), ("hourglass", "inner"))),
        ]  # fmt: skip
    return chain
