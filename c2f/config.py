"""The experiment configuration: frozen dataclasses, one file per recipe.

A recipe is a Python file defining ``get_config() -> Config``. The named recipes ship inside
the package (:mod:`c2f.configs`: ``paper``, ``uniform``, ``demo``, ...); a path to a recipe
file of one's own works too. Load either with :func:`load_config` and change fields from the
command line with :func:`apply_overrides` (``train.steps=500``, ``model.depths=(1,2,4,64)``,
``optim.name="adam"``).
"""

import ast
import dataclasses
import importlib
import importlib.util
import pathlib
import types
import typing

from c2f.data.augment import AugmentConfig
from c2f.data.loader import AUGMENT_PLACES
from c2f.data.mixture import parse_mix  # the shares depend on the batch size
from c2f.evaluation.protocols import PROTOCOLS
from c2f.geometry.depth_bins import DepthBins
from c2f.losses import LossConfig
from c2f.model.config import ModelConfig
from c2f.model.segments import PROGRAMS
from c2f.optim import OPTIMIZERS
from c2f.volume import DECODES
from c2f.volume.targets import TargetConfig

MAX_STEPS = 10**9  # the paper's budget is 10^6; beyond this a value is a typo


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the data is and how it is loaded.

    Attributes:
      root: folder with ``train.h5`` and ``test.h5`` (docs/data.md).
      train_file, test_file: file names inside ``root``.
      workers: loader processes (0: in the training process), for training and evaluation.
      augment: the training augmentation (the paper's by default).
      augment_on: where the training images are warped and coloured (``AUGMENT_PLACES``):
        "host", in the loader's processes, or "device", inside the jitted train step (the
        loader then only reads and decodes; for a GPU, whose step outruns the host's warps).
        The same draws and the same pixels within one grey level (tests/test_augment_device).
      bad_images: a training image that does not decode is "skip"ped (replaced by the next
        sample, named in a warning, counted in ``train/bad_images``) or makes training "fail".
        Evaluation always fails on one: replacing it would change what is measured.
      hold_out_actions: action names whose samples training never sees (e.g. to measure how
        the model does on pose families it was not trained on); evaluation reports them apart.
      mix: other training files in every batch, ``"PATH:SHARE"`` each (e.g.
        ``("data/mpii/train.h5:0.5",)``: half of each batch from MPII); ``train_file`` fills
        the rest (:mod:`c2f.data.mixture`).
    """

    root: str = "data/synthetic"
    train_file: str = "train.h5"
    test_file: str = "test.h5"
    workers: int = 2
    augment: AugmentConfig = AugmentConfig()
    augment_on: str = "host"
    bad_images: str = "skip"
    hold_out_actions: tuple[str, ...] = ()
    mix: tuple[str, ...] = ()

    def __post_init__(self):
        if isinstance(self.hold_out_actions, str) or not all(
            isinstance(a, str) for a in self.hold_out_actions
        ):
            raise ValueError(
                f"DataConfig.hold_out_actions: a tuple of action names, got "
                f"{self.hold_out_actions!r}"
            )
        if self.workers < 0:
            raise ValueError(f"DataConfig.workers: must be >= 0, got {self.workers}")
        if self.bad_images not in ("skip", "fail"):
            raise ValueError(f"DataConfig.bad_images: 'skip' or 'fail', got {self.bad_images!r}")
        if self.augment_on not in AUGMENT_PLACES:
            raise ValueError(
                f"DataConfig.augment_on: one of {AUGMENT_PLACES}, got {self.augment_on!r}"
            )


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Optimizer: the paper's RMSprop or Adam, with a step schedule.

    Attributes:
      name: "rmsprop" (the paper: lr 2.5e-4) or "adam" (the integral recipe).
      learning_rate: initial learning rate.
      decay_steps: steps at which the rate is multiplied by ``decay_factor``.
      decay_factor: the step schedule's factor.
      warmup_steps: linear warm-up from 0 (0: none).
      clip_norm: global gradient-norm clipping (0: none).
    """

    name: str = "rmsprop"
    learning_rate: float = 2.5e-4
    decay_steps: tuple[int, ...] = ()
    decay_factor: float = 0.1
    warmup_steps: int = 0
    clip_norm: float = 0.0

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(f"OptimConfig.name: one of {tuple(OPTIMIZERS)}, got {self.name!r}")
        if self.learning_rate <= 0:
            raise ValueError(
                f"OptimConfig.learning_rate: must be positive, got {self.learning_rate}"
            )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training loop.

    Attributes:
      batch_size: global batch (split over every device of every host).
      steps: total optimizer steps.
      seed: parameter initialisation and data order.
      log_every: steps between scalar logs.
      eval_every: steps between evaluations on the test split (0: only at the end).
      eval_limit: evaluate on at most this many test samples (0: all).
      checkpoint_every: steps between checkpoints.
      keep_checkpoints: how many recent checkpoints to keep (the best is kept besides).
      decode: "soft" (soft-argmax), "hard" (argmax refined to sub-voxel) or "argmax" (the
        paper's: voxel centres), for evaluations whose protocol leaves it to the run.
      protocol: the evaluation protocol of training-time evaluations
      (:mod:`c2f.evaluation.protocols`:
        "paper", "p1-gt-root", "p2-s11").
      image_summaries: at each evaluation, log a picture to TensorBoard: test crops with the
        predicted and true 2D skeletons and 3D skeletons from two viewpoints.
      programs: how the training step is compiled (:data:`c2f.model.segments.PROGRAMS`):
        "one" XLA program, or "segments", one per segment of the network, where every
        stage's inner hourglass shares one: the paper network compiles in less time and
        steps faster on a CPU (docs/speed.md); the results agree to float32 rounding.
    """

    batch_size: int = 16
    steps: int = 100_000
    seed: int = 0
    log_every: int = 50
    eval_every: int = 5_000
    eval_limit: int = 0
    checkpoint_every: int = 1_000
    keep_checkpoints: int = 3
    decode: str = "soft"
    protocol: str = "p1-gt-root"
    image_summaries: bool = True
    programs: str = "one"

    def __post_init__(self):
        if self.programs not in PROGRAMS:
            raise ValueError(
                f"TrainConfig.programs: one of {tuple(PROGRAMS)}, got {self.programs!r}"
            )
        if self.decode not in DECODES:
            raise ValueError(f"TrainConfig.decode: one of {DECODES}, got {self.decode!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"TrainConfig.protocol: one of {tuple(PROTOCOLS)}, got {self.protocol!r}"
            )
        for name in ("batch_size", "steps", "log_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TrainConfig.{name}: must be positive, got {getattr(self, name)}")
        if self.steps > MAX_STEPS:
            raise ValueError(f"TrainConfig.steps: at most {MAX_STEPS:,}, got {self.steps:,}")
        for name in ("eval_every", "eval_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name}: must be >= 0, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines an experiment."""

    model: ModelConfig = ModelConfig()
    targets: TargetConfig = TargetConfig()
    loss: LossConfig = LossConfig()
    depth_bins: DepthBins = DepthBins()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        # The finest depth resolution is stated once, in model.depths; depth_bins follows it.
        # A recipe that names another num_bins explicitly is an error, not silently replaced.
        finest, stated = self.model.depths[-1], self.depth_bins.num_bins
        if stated not in (finest, DepthBins().num_bins):
            raise ValueError(
                f"Config: depth_bins.num_bins ({stated}) is derived from model.depths[-1] "
                f"({finest}); set model.depths only"
            )
        if stated != finest:
            object.__setattr__(
                self, "depth_bins", dataclasses.replace(self.depth_bins, num_bins=finest)
            )
        if len(self.loss.stage_weights) not in (0, len(self.model.depths)):
            raise ValueError(
                f"Config: loss.stage_weights has {len(self.loss.stage_weights)} entries for "
                f"{len(self.model.depths)} stages"
            )

        parse_mix(self.data.mix, self.train.batch_size)


def with_data_skeleton(cfg: Config, skeleton) -> Config:
    """``cfg`` for data of ``skeleton``: the model's skeleton and joints, and the depth range.

    A config that names no skeleton takes the data's (``model.joints`` follows it unless set
    to another count: an error); one that names another skeleton is an error. The depth bins
    span the skeleton's ``depth_range_mm`` unless the config sets its own range (the default
    range is the paper's +-1 m, Human3.6M's own).

    Raises:
      ValueError: naming the field that disagrees with the data.
    """
    stated = cfg.model.skeleton
    if stated is not None and stated != skeleton:
        raise ValueError(
            f"the data's skeleton is {skeleton.name!r} ({skeleton.num_joints} joints), but "
            f"model.skeleton is {stated.name!r}"
        )
    try:
        model = dataclasses.replace(cfg.model, skeleton=skeleton)
    except ValueError as e:
        raise ValueError(f"the data's skeleton is {skeleton.name!r}: {e}") from e
    bins, default = cfg.depth_bins, DepthBins()
    if (bins.min_mm, bins.max_mm) == (default.min_mm, default.max_mm):
        near, far = skeleton.depth_range_mm
        bins = dataclasses.replace(bins, min_mm=float(near), max_mm=float(far))
    return dataclasses.replace(cfg, model=model, depth_bins=bins)


def recipe_names() -> tuple[str, ...]:
    """The named recipes shipped in :mod:`c2f.configs` (one file each)."""
    folder = pathlib.Path(__file__).parent / "configs"  # a path: the recipes import this module
    return tuple(sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")))


def load_config(name_or_path: str | pathlib.Path) -> Config:
    """``get_config()`` of a named recipe (``"paper"``, ``"demo"``) or of a recipe file.

    A name is looked up in :func:`recipe_names` (the package's own files, so it works from an
    installed wheel); anything else is a path to a Python file defining ``get_config``.

    Raises:
      ValueError: if the name is unknown, the file is missing, or it does not define
        ``get_config`` returning a Config.
    """
    text = str(name_or_path)
    if text in recipe_names():
        module = importlib.import_module(f"c2f.configs.{text}")
        where = f"recipe {text!r}"
    else:
        path = pathlib.Path(name_or_path)
        if not path.is_file():
            raise ValueError(
                f"config: {text!r} is neither a named recipe ({', '.join(recipe_names())}) "
                "nor a recipe file"
            )
        if path.suffix != ".py":
            raise ValueError(f"config: {text!r} is not a recipe (a .py file defining get_config)")
        spec = importlib.util.spec_from_file_location(f"c2f_config_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # a recipe is code: whatever it raises, name the file
            raise ValueError(f"config: {text!r} failed to load ({type(e).__name__}: {e})") from e
        where = repr(str(path))
    if not hasattr(module, "get_config"):
        raise ValueError(f"config: {where} defines no get_config()")
    cfg = module.get_config()
    if not isinstance(cfg, Config):
        raise ValueError(f"config: get_config() in {where} returned {type(cfg).__name__}")
    return cfg


def _coerce(value, annotation, full: str):
    """``value`` as the field's type: ints widen to floats, lists become tuples; else an error."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            value = (value,)
        args = typing.get_args(annotation)
        item = args[0] if args else None
        return tuple(_coerce(v, item, full) for v in value) if item else tuple(value)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(annotation)):
            return None
        for option in options:
            try:
                return _coerce(value, option, full)
            except ValueError:
                continue
        raise ValueError(f"--set {full}: {value!r} is not a {annotation}")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool):
        if type(value) is not annotation:
            raise ValueError(
                f"--set {full}: expected {annotation.__name__}, got {value!r} "
                f"({type(value).__name__})"
            )
    return value


def _set(tree: dict, cls, keys: list[str], value, full: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if keys[0] not in fields:
        raise ValueError(f"--set {full}: {cls.__name__} has no field {keys[0]!r} "
                         f"(fields: {', '.join(sorted(fields))})")  # fmt: skip
    field = fields[keys[0]]
    sub = field.default if dataclasses.is_dataclass(field.default) else None
    if len(keys) > 1:
        if sub is None:
            raise ValueError(f"--set {full}: {keys[0]!r} is a value, not a section")
        _set(tree[keys[0]], type(sub), keys[1:], value, full)
    elif sub is not None:
        raise ValueError(f"--set {full}: {keys[0]!r} is a section; set one of its fields "
                         f"({', '.join(f.name for f in dataclasses.fields(sub))})")  # fmt: skip
    else:
        tree[keys[0]] = _coerce(value, field.type, full)


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``key.path=value`` overrides; values are Python literals (strings may be bare).

    Each value is checked against its field's type (ints widen to floats, lists become
    tuples); the configuration is validated once, after all overrides, so that settings that
    must agree can be changed together. Derived settings cannot be set
    (``depth_bins.num_bins`` follows ``model.depths``).

    Raises:
      ValueError: naming the override when the key does not exist or the value is invalid.
    """
    for item in overrides:
        if item.split("=", 1)[0].strip() == "depth_bins.num_bins":
            raise ValueError(
                f"--set {item}: derived from model.depths[-1]; set model.depths (e.g. "
                "model.depths=(4,48))"
            )
    if not overrides:
        return cfg
    return override(cfg, overrides, derive=_derive_bins)


def _derive_bins(tree: dict) -> None:
    tree["depth_bins"]["num_bins"] = DepthBins().num_bins  # re-derived from model.depths


def override(obj, overrides: list[str], derive=None):
    """Any frozen config dataclass with ``key.path=value`` overrides (see :func:`apply_overrides`).

    ``derive(tree)``, if given, fixes derived fields of the dict before it is validated.
    """
    tree = dataclasses.asdict(obj)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set {item}: expected key=value")
        key, text = item.split("=", 1)
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        _set(tree, type(obj), key.strip().split("."), value, item)
    if derive is not None:
        derive(tree)
    try:
        return _from_dict(type(obj), tree)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--set {' '.join(overrides)}: {e}") from e


def _from_dict(cls, data: dict):
    kwargs = {}
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name, value in data.items():
        if name not in types:
            raise ValueError(f"config: {cls.__name__} has no field {name!r}")
        default = defaults[name]
        if dataclasses.is_dataclass(default):
            value = _from_dict(type(default), value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


# Model fields added after runs were saved, with the value those runs were built with.
_LEGACY_MODEL_FIELDS = {"design": "uniform", "init": "lecun", "skeleton": "h36m17"}


def config_from_dict(data: dict) -> Config:
    """Rebuild a :class:`Config` from ``dataclasses.asdict`` output (e.g. a checkpoint's JSON).

    A model section written before ``design`` and ``init`` existed describes the uniform
    network with flax's initialisers, which is what such runs trained; one written before
    ``skeleton`` existed is Human3.6M's 17 joints.
    """
    if isinstance(data.get("model"), dict):
        data = {**data, "model": {**_LEGACY_MODEL_FIELDS, **data["model"]}}
    return _from_dict(Config, data)
