"""Embeddings from a trained network, and their transfer value by k-NN and linear SVM.

``export_embeddings`` runs a checkpoint over the clips of some sessions and keeps a chosen
layer: ``embedding`` (the layer before the head; per-frame embeddings of DualCamNet, ResNet-50
and AVNet are averaged over the clip) or ``logits``. ``transfer_scores`` fits k-NN and a linear
SVM (scikit-learn) on one set of embeddings and scores them on another.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import AcamError
from .cache import cache_root
from .data import ClipDataset, Files, index_clips
from .inputs import run
from .kinds import AUDIO_MODELS, LAYERS, MFCC_MODELS
from .train import checkpoint_context, clip_frames, device_for, load_checkpoint


def export_embeddings(checkpoint, pairs, layer: str = "embedding", device: str = "auto", batch_size: int = 32,
                      cache: str | None = None) -> dict:
    """{'x': (N, D) float32, 'label': (N,) class names, 'scenario', 'session', 'start'} over all clips;
    ``cache``: as ``TrainConfig.cache``."""
    if layer not in LAYERS:
        raise AcamError(f"--layer: expected one of {', '.join(LAYERS)}, found {layer!r}")
    dev = device_for(device)
    model, ck = load_checkpoint(checkpoint, dev)
    files = Files(cache=cache_root([s for s, _ in pairs], cache))
    cfg, ctx = checkpoint_context(model, ck, dev, files)
    clips = index_clips(pairs, clip_frames=clip_frames(cfg), files=files)
    ds = ClipDataset(clips, ck["classes"], None, audio=cfg.model in AUDIO_MODELS, mfcc=cfg.model in MFCC_MODELS, files=files)
    out = []
    with torch.no_grad():
        for i in range(0, len(ds), batch_size):
            items = [ds[j] for j in range(i, min(len(ds), i + batch_size))]
            z = run(model, items, ctx, embed=layer == "embedding")
            if z.dim() == 3:  # per frame -> per clip
                z = z.mean(1)
            out.append(z.reshape(z.shape[0], -1).cpu().numpy())
    x = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    return {"x": x.astype(np.float32), "label": np.array([c.label for c in clips]),
            "scenario": np.array([c.scenario for c in clips]), "session": np.array([c.session for c in clips]),
            "start": np.array([c.start for c in clips])}


def transfer_scores(train: dict, test: dict, k: int = 5) -> dict:
    """Accuracy of k-NN (cosine) and a linear SVM trained on `train` embeddings, on `test`."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    knn = KNeighborsClassifier(n_neighbors=min(k, len(train["x"])), metric="cosine").fit(train["x"], train["label"])
    svm = make_pipeline(StandardScaler(), LinearSVC(C=1.0, max_iter=5000)).fit(train["x"], train["label"])
    return {"knn": float((knn.predict(test["x"]) == test["label"]).mean()),
            "svm": float((svm.predict(test["x"]) == test["label"]).mean()),
            "n_train": int(len(train["x"])), "n_test": int(len(test["x"])), "dim": int(train["x"].shape[1])}
