"""Cross-scenario evaluation: every checkpoint on every scenario, as the paper's tables.

A checkpoint trained on scenario A (or on all of them) is scored on the clips of each scenario
present in the test sessions, leaving out every (session, 10-s block) it trained or validated
on: the A-on-A cell is the held-out test split, the A-on-B cells use all of B ("tested on the
other two scenarios using all the available data").
"""

from __future__ import annotations

from pathlib import Path

from .data import ClipDataset, index_clips
from .inputs import session_key
from .kinds import AUDIO_MODELS, MFCC_MODELS
from .train import TEACHER_FRAMES, accuracy, checkpoint_context, clip_frames, device_for, load_checkpoint

ALL = "all"


def model_label(ck: dict) -> str:
    """The column name: the network, and for distilled students where their supervision came from."""
    cfg = ck["config"]
    if cfg["role"] != "distill":
        return cfg["model"]
    return f"{cfg['model']}<-{ck.get('teacher_model', '?')}:{cfg['distill']}"


def evaluate(checkpoints, pairs, device: str = "auto", labels=None) -> list[dict]:
    """Rows {model, train, test, accuracy, clips, checkpoint}: each checkpoint on each scenario of
    `pairs` and on all of them together, never on clips it trained or validated on."""
    dev = device_for(device)
    rows = []
    for i, path in enumerate(checkpoints):
        model, ck = load_checkpoint(path, dev)
        cfg, ctx = checkpoint_context(model, ck, dev)
        seen = {tuple(u) for u in ck.get("units", [])}
        # students' 5-s clips start every second, as in training: more clips, a steadier figure
        clips = [c for c in index_clips(pairs, clip_frames=clip_frames(cfg), hop_frames=TEACHER_FRAMES)
                 if (session_key(c.session), c.block) not in seen]
        label = labels[i] if labels else model_label(ck)
        scenarios = sorted({c.scenario for c in clips})
        for scen in scenarios + ([ALL] if len(scenarios) > 1 else []):
            part = [c for c in clips if scen == ALL or c.scenario == scen]
            ds = ClipDataset(part, ck["classes"], None, audio=cfg.model in AUDIO_MODELS, mfcc=cfg.model in MFCC_MODELS)
            rows.append({"model": label, "train": cfg.train_scenario or ALL, "test": scen,
                         "accuracy": accuracy(model, ds, ctx), "clips": len(part), "checkpoint": str(Path(path))})
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
    return "\n".join(lines)
