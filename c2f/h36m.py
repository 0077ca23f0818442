"""Human3.6M protocol constants: subject splits, actions and their order in results tables."""

TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
CAMERAS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")

# The 15 actions in the column order of the paper's tables (and of most later papers).
ACTIONS: tuple[str, ...] = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
ACTION_ABBREVIATIONS: dict[str, str] = dict(
    zip(
        ACTIONS,
        ("Dir", "Disc", "Eat", "Greet", "Phone", "Photo", "Pose", "Purch", "Sit", "SitD", "Smoke",
         "Wait", "WalkD", "Walk", "WalkT"),
    )
)  # fmt: skip

# Names in the release (metadata.xml, S1's file prefixes) that differ from the canonical ones.
_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog", "WalkingTogether": "WalkTogether"}


def canonical_action(name: str) -> str:
    """Canonical action name from a sequence name such as ``"WalkDog 1"`` or ``"TakingPhoto_1"``.

    Raises:
      ValueError: if the name is not one of the 15 Human3.6M actions (after removing a
        sub-action suffix and mapping the release's aliases).
    """
    base = name.replace("_", " ").split(" ")[0]
    base = _ALIASES.get(base, base)
    if base not in ACTIONS:
        raise ValueError(f"action {name!r} is not a Human3.6M action; expected one of {ACTIONS}")
    return base
