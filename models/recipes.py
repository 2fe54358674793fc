"""Hyper-parameter recipes: named sets of training settings per role and model.

``paper``: what the DualCam code's scripts use (``scripts/train_teachers.sh``,
``scripts/train_students.sh``, ``main_s2.py``'s defaults for distillation; see
``dualcam-facts.md``), with the networks' L2 weight decay (HearNet, SoundNet-5 and ResNet-50
5e-4; DualCamNet none). AVNet has no published script: it takes DualCamNet's settings (it trains
all of DualCamNet; only ResNet-50's last layer). The paper's lambda and temperature were not
published: the code's defaults (0.5, 1) stand.

``quick``: acam's own defaults, for small data and CPUs.
"""

from __future__ import annotations

from ..errors import AcamError

RECIPE_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "lam", "temperature")

_QUICK = {"epochs": 10, "batch_size": 16, "lr": 1e-3, "weight_decay": 0.0, "lam": 0.5, "temperature": 1.0}

RECIPES = {
    "quick": {"*": _QUICK},
    "paper": {
        ("teacher", "dualcamnet"): {"epochs": 100, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0},
        ("teacher", "avnet"): {"epochs": 100, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0},
        ("teacher", "resnet50"): {"epochs": 100, "batch_size": 32, "lr": 1e-4, "weight_decay": 5e-4},
        ("student", "hearnet"): {"epochs": 100, "batch_size": 32, "lr": 1e-4, "weight_decay": 5e-4},
        ("student", "soundnet5"): {"epochs": 100, "batch_size": 32, "lr": 1e-4, "weight_decay": 5e-4},
        ("distill", "hearnet"): {"epochs": 10, "batch_size": 64, "lr": 1e-3, "weight_decay": 5e-4, "lam": 0.5, "temperature": 1.0},
        ("distill", "soundnet5"): {"epochs": 10, "batch_size": 64, "lr": 1e-3, "weight_decay": 5e-4, "lam": 0.5, "temperature": 1.0},
    },
}


def recipe(name: str, role: str, model: str, given: dict | None = None) -> dict:
    """The settings of recipe ``name`` for (role, model), with those in ``given`` (not None)
    taking precedence: ``--recipe paper --epochs 5`` is the paper's recipe for five epochs."""
    table = RECIPES.get(name)
    if table is None:
        raise AcamError(f"--recipe: expected one of {', '.join(RECIPES)}, found {name!r}")
    out = dict(_QUICK)
    out.update(table.get("*", {}))
    out.update(table.get((role, model), {}))
    out.update({k: v for k, v in (given or {}).items() if v is not None})
    return {k: out[k] for k in RECIPE_KEYS}
