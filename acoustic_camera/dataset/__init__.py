"""Datasets of simulated sessions made at scale (``acam dataset make``): the preset plans
(:mod:`.presets`), the per-session job and the runners that execute it on local cores or as Ray
tasks (:mod:`.make`), and the training copy that keeps only what the models read
(:mod:`.keep`). The manifest and split files are :mod:`acoustic_camera.io.dataset`'s."""

from .._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "PRESETS": "presets", "DatasetPreset": "presets", "plan": "presets", "SessionJob": "presets",
    "make_dataset": "make", "make_session": "make", "training_copy": "keep",
})
