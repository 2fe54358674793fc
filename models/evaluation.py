"""Cross-scenario evaluation: every checkpoint on every scenario, as the paper's tables.

A checkpoint trained on scenario A (or on all of them) is scored on the clips of each scenario
present in the test sessions, leaving out every (session, 10-s block) it trained or validated
on: the A-on-A cell is the held-out test split, the A-on-B cells use all of B ("tested on the
other two scenarios using all the available data").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..catalog import SCENARIOS
from ..io.dataset import BLOCK_SECONDS
from .cache import cache_root
from .data import ClipDataset, Files, index_clips, non_overlapping, session_key
from .kinds import AUDIO_MODELS, MFCC_MODELS
from .train import checkpoint_context, clip_frames, device_for, load_checkpoint, predict

ALL = "all"


NOT_PRETRAINED = "[random ResNet-50]"


def model_label(ck: dict) -> str:
    """The column name: the network, and for distilled students where their supervision came
    from; flagged when a visual backbone involved was not pretrained."""
    cfg = ck["config"]
    label = cfg["model"] if cfg["role"] != "distill" else f"{cfg['model']}<-{ck.get('teacher_model', '?')}:{cfg['distill']}"
    return f"{label} {NOT_PRETRAINED}" if ck.get("pretrained") is False else label


def trained_on(ck: dict) -> str:
    """The row name: the scenarios a model trained on ("all" for the three), not what it was
    asked for."""
    scen = ck.get("scenarios") or ([ck["config"]["train_scenario"]] if ck["config"].get("train_scenario") else None)
    if not scen or set(scen) == set(SCENARIOS):
        return ALL
    return "+".join(sorted(scen))


def independent_clips(clips) -> int:
    """How many of the clips do not overlap: those starting a whole number of clip lengths into
    their 10-s block (students' 5-s clips start every second, so 6 per block overlap, 2 do not)."""
    return len(non_overlapping(clips, BLOCK_SECONDS))


def evaluate(checkpoints, pairs, device: str = "auto", labels=None, cache: str | None = None) -> list[dict]:
    """Rows {model, train, test, accuracy, clips, checkpoint}: each checkpoint on each scenario of
    `pairs` and on all of them together, never on clips it trained or validated on. ``cache``:
    as ``TrainConfig.cache``."""
    dev = device_for(device)
    files = Files(cache=cache_root([s for s, _ in pairs], cache))
    rows = []
    for i, path in enumerate(checkpoints):
        model, ck = load_checkpoint(path, dev)
        cfg, ctx = checkpoint_context(model, ck, dev, files)
        seen = {tuple(u) for u in ck.get("units", [])}
        clips = [c for c in non_overlapping(index_clips(pairs, clip_frames=clip_frames(cfg), files=files))
                 if (session_key(c.session), c.block) not in seen]
        label = labels[i] if labels else model_label(ck)
        ds = ClipDataset(clips, ck["classes"], None, audio=cfg.model in AUDIO_MODELS, mfcc=cfg.model in MFCC_MODELS,
                         files=files)
        truth, pred = predict(model, ds, ctx)  # once: each scenario's cell and "all" are slices of it
        scen_of = np.array([c.scenario for c in clips])
        scenarios = sorted(set(scen_of.tolist()))
        for scen in scenarios + ([ALL] if len(scenarios) > 1 else []):
            mask = np.ones(len(clips), bool) if scen == ALL else scen_of == scen
            n = int(mask.sum())  # every scored clip is independent (non_overlapping above)
            acc = float(np.mean(pred[mask] == truth[mask])) if n else float("nan")
            rows.append({"model": label, "train": trained_on(ck), "test": scen, "accuracy": acc,
                         "clips": n, "independent": n, "checkpoint": str(Path(path)),
                         "pretrained": ck.get("pretrained"), "split_sha256": ck.get("split_sha256")})
    return rows


def accuracy_table(rows: list[dict]) -> str:
    """Markdown: one line per (train set, test set), one column per model, as in the paper."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    cells = {(r["train"], r["test"], r["model"]): r for r in rows}
    pairs = sorted({(r["train"], r["test"]) for r in rows}, key=lambda p: (p[0] == ALL, p[0], p[1] == ALL, p[1]))
    lines = ["| train set | test set | " + " | ".join(models) + " |", "|---|---|" + "---:|" * len(models)]
    for tr, te in pairs:
        vals = []
        for m in models:
            r = cells.get((tr, te, m))
            vals.append("" if r is None else f"{r['accuracy']:.4f} ({r['clips']})")
        lines.append(f"| {tr} | {te} | " + " | ".join(vals) + " |")
    if any(r.get("pretrained") is False for r in rows):
        lines.append(f"\n**WARNING: columns marked {NOT_PRETRAINED} used a ResNet-50 backbone that was NOT pretrained "
                     "(no --visual-weights): a random frozen backbone, not the paper's ImageNet teacher.**")
    return "\n".join(lines)
