"""Controls: models made wrong on purpose, to show that what we measure is what we say.

:func:`permute_teacher` writes a teacher whose classes are relabelled by a permutation: it says
class ``k`` where the original said ``perm[k]``. A student distilled from it with ``lam = 1``
learns only from the teacher, so it must follow the permutation, not the labels; if it followed
the labels, the soft-label path would not be carrying the teacher at all.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import AcamError
from .train import peek_checkpoint, save_atomic

# the output layer of each teacher: its rows are the classes
_OUTPUT_LAYER = {"dualcamnet": "head.fc2", "avnet": "head.fc2", "resnet50": "net.fc"}


def permute_teacher(checkpoint, out, perm) -> Path:
    """Copy a teacher checkpoint to ``out`` with its output rows permuted: new class ``k`` is
    the original's ``perm[k]``. The checkpoint records ``control = {"permuted_classes": perm}``."""
    ck = dict(peek_checkpoint(checkpoint))
    model = ck.get("config", {}).get("model")
    n = len(ck.get("classes", []))
    if model not in _OUTPUT_LAYER:
        raise AcamError(f"{checkpoint}: a {model} checkpoint is not a teacher ({', '.join(_OUTPUT_LAYER)})")
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(n)):
        raise AcamError(f"permutation: expected the numbers 0..{n - 1} each once, found {perm}")
    state = {k: v.clone() for k, v in torch.load(checkpoint, map_location="cpu", weights_only=False)["model"].items()}
    layer = _OUTPUT_LAYER[model]
    for part in ("weight", "bias"):
        state[f"{layer}.{part}"] = state[f"{layer}.{part}"][perm].clone()
    ck["model"] = state
    ck["control"] = {"permuted_classes": perm}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(ck, out)
    return out
