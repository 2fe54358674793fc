"""Training, distillation and evaluation loops (PyTorch, CPU or GPU).

- ``teacher``: DualCamNet on 1-s MFCC clips (12 frames); cross-entropy per acoustic frame, the
  label tiled over the frames, as in the published code.
- ``student``: HearNet (spectrogram) or SoundNet-5 (waveform) on 5-s clips of microphone 0.
- ``distill``: a student trained with a frozen teacher's soft labels (the published loss, or
  Hinton's), the teacher's per-frame logits averaged over the 60 acoustic frames of the clip.

Seeds, checkpoints (``last.pt``, ``best.pt`` chosen on validation accuracy), resume, progress
bars and ``metrics.json`` are handled here; the CLI (``acam train``) is a thin layer on top.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import ClipDataset, class_names, hearnet_spectrogram, index_clips, mfcc_stats, soundnet_scale, split_blocks, split_scenarios
from .losses import freeze, hinton_distillation, soft_label_distillation
from .networks import DualCamNet, HearNet, SoundNet5

TEACHER_FRAMES = 12
STUDENT_FRAMES = 60


@dataclass
class TrainConfig:
    role: str = "teacher"  # teacher | student | distill
    model: str = "dualcamnet"  # dualcamnet | hearnet | soundnet5
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    distill: str = "soft"  # soft (published) | hinton
    lam: float = 0.5
    temperature: float = 1.0
    teacher: str | None = None  # checkpoint of the teacher (distill)
    train_scenario: str | None = None  # cross-scenario: train on this one...
    test_scenario: str | None = None  # ...and test on this one
    device: str = "auto"
    extra: dict = field(default_factory=dict)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build(model: str, n_classes: int) -> nn.Module:
    return {"dualcamnet": DualCamNet, "hearnet": HearNet, "soundnet5": SoundNet5}[model](n_classes)


def _frames(cfg: TrainConfig) -> int:
    return TEACHER_FRAMES if cfg.model == "dualcamnet" else STUDENT_FRAMES


def audio_stats(ds: ClipDataset) -> dict:
    """Per-bin min and max of HearNet spectrograms over the (training) dataset."""
    lo, hi = None, None
    for i in range(len(ds)):
        s = hearnet_spectrogram(ds[i]["audio"])
        lo = s.min(0) if lo is None else np.minimum(lo, s.min(0))
        hi = s.max(0) if hi is None else np.maximum(hi, s.max(0))
    return {"min": lo, "max": hi}


def model_input(model: str, items: list[dict], stats: dict, device) -> torch.Tensor:
    if model == "dualcamnet":
        x = np.stack([it["mfcc"] for it in items])
    elif model == "hearnet":
        x = np.stack([(hearnet_spectrogram(it["audio"]) - stats["min"]) / np.maximum(stats["max"] - stats["min"], 1e-9)
                      for it in items])
    else:
        x = np.stack([soundnet_scale(it["audio"]) for it in items])
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)


def _teacher_logits(teacher: nn.Module, items: list[dict], device) -> torch.Tensor:
    """The frozen teacher on the student's 60 frames, as 5 clips of 12, per-frame logits (B, 60, C)."""
    m = torch.from_numpy(np.stack([it["mfcc"] for it in items])).to(device)  # (B, 60, 12, 36, 48)
    b, t = m.shape[:2]
    with torch.no_grad():
        out = teacher(m.reshape(b * t // TEACHER_FRAMES, TEACHER_FRAMES, *m.shape[2:]))
    return out.reshape(b, t, -1)


def _batches(n: int, size: int, rng: np.random.Generator | None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, size):
        yield order[i:i + size]


def accuracy(model: nn.Module, cfg_model: str, ds: ClipDataset, stats: dict, device, batch_size: int = 32) -> float:
    """Clip accuracy; DualCamNet's per-frame logits are averaged over the clip's frames."""
    if len(ds) == 0:
        return float("nan")
    model.eval()
    correct = 0
    with torch.no_grad():
        for idx in _batches(len(ds), batch_size, None):
            items = [ds[int(i)] for i in idx]
            out = model(model_input(cfg_model, items, stats, device))
            if out.dim() == 3:
                out = out.mean(1)
            correct += int((out.argmax(1).cpu().numpy() == np.array([it["label"] for it in items])).sum())
    return correct / len(ds)


def prepare(cfg: TrainConfig, pairs) -> dict:
    # students: 5-s clips starting every second inside each 10-s block (overlapping crops, as the
    # DualCam code sampled several crops per block)
    clips = index_clips(pairs, clip_frames=_frames(cfg), hop_frames=TEACHER_FRAMES)
    if cfg.train_scenario and cfg.test_scenario:
        split = split_scenarios(clips, cfg.train_scenario, cfg.test_scenario, seed=cfg.seed)
    else:
        split = split_blocks(clips, seed=42)  # the DualCam lists' seed: splits do not move with the run's seed
    classes = class_names(clips)
    stats = {"mfcc": mfcc_stats(split["train"])}
    need_audio = cfg.model != "dualcamnet"
    sets = {k: ClipDataset(v, classes, stats["mfcc"], audio=need_audio) for k, v in split.items()}
    if cfg.model == "hearnet":
        stats["audio"] = audio_stats(sets["train"])
    return {"classes": classes, "stats": stats, "sets": sets}


def train(cfg: TrainConfig, pairs, out_dir, resume: bool = False, progress: bool = True) -> dict:
    """Train per `cfg` on (session, acoustic) pairs; writes last.pt, best.pt and metrics.json."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _seed(cfg.seed)
    device = _device(cfg.device)
    data = prepare(cfg, pairs)
    classes, sets = data["classes"], data["sets"]
    mstats = data["stats"].get("audio") if cfg.model == "hearnet" else data["stats"]["mfcc"]
    model = build(cfg.model, len(classes)).to(device)
    teacher = None
    if cfg.role == "distill":
        if not cfg.teacher:
            raise ValueError("distillation needs a teacher checkpoint")
        teacher, _tc = load_checkpoint(cfg.teacher, device)
        freeze(teacher)
        if _tc["classes"] != classes:
            raise ValueError(f"teacher classes {_tc['classes']} differ from the data's {classes}")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    start, best, history = 0, -1.0, []
    last = out_dir / "last.pt"
    if resume and last.exists():
        ck = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, best, history = ck["epoch"] + 1, ck["best"], ck["history"]
    rng = np.random.default_rng(cfg.seed + start)
    ce = nn.CrossEntropyLoss()
    for epoch in range(start, cfg.epochs):
        model.train()
        losses = []
        bar = tqdm(list(_batches(len(sets["train"]), cfg.batch_size, rng)), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not progress, leave=False)
        for idx in bar:
            items = [sets["train"][int(i)] for i in idx]
            y = torch.tensor([it["label"] for it in items], device=device)
            out = model(model_input(cfg.model, items, mstats, device))
            if cfg.role == "distill":
                t = _teacher_logits(teacher, items, device)
                fn = soft_label_distillation if cfg.distill == "soft" else hinton_distillation
                loss = fn(out, y, t, lam=cfg.lam, T=cfg.temperature)
            elif out.dim() == 3:  # per-frame outputs: the clip label tiled over the frames
                loss = ce(out.reshape(-1, out.shape[-1]), y.repeat_interleave(out.shape[1]))
            else:
                loss = ce(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        val = accuracy(model, cfg.model, sets["validation"], mstats, device)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else None, "val_accuracy": val})
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "best": best,
                 "history": history, "config": asdict(cfg), "classes": classes, "stats": data["stats"]}
        if val >= best or np.isnan(val) and best < 0:  # ties: the later, longer-trained model
            best = val if not np.isnan(val) else 0.0
            state["best"] = best
            torch.save(state, out_dir / "best.pt")
        torch.save(state, last)
    best_model, _ = load_checkpoint(out_dir / "best.pt", device)
    metrics = {"config": asdict(cfg), "classes": classes, "history": history, "best_val_accuracy": best,
               "test_accuracy": accuracy(best_model, cfg.model, sets["test"], mstats, device),
               "train_accuracy": accuracy(best_model, cfg.model, sets["train"], mstats, device),
               "chance": 1.0 / max(len(classes), 1), "sizes": {k: len(v) for k, v in sets.items()}}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    return metrics


def load_checkpoint(path, device="cpu"):
    ck = torch.load(path, map_location=device, weights_only=False)
    model = build(ck["config"]["model"], len(ck["classes"])).to(device)
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


def evaluate(checkpoints, pairs, device: str = "auto") -> dict:
    """Accuracy of each checkpoint on the clips of each scenario: {train scenario: {test scenario: acc}}."""
    dev = _device(device)
    table = {}
    for path in checkpoints:
        model, ck = load_checkpoint(path, dev)
        cfg = TrainConfig(**ck["config"])
        clips = index_clips(pairs, clip_frames=_frames(cfg))
        mstats = ck["stats"].get("audio") if cfg.model == "hearnet" else ck["stats"]["mfcc"]
        row = {}
        for scen in sorted({c.scenario for c in clips}):
            ds = ClipDataset([c for c in clips if c.scenario == scen], ck["classes"], ck["stats"]["mfcc"],
                             audio=cfg.model != "dualcamnet")
            row[scen] = accuracy(model, cfg.model, ds, mstats, dev)
        table[f"{cfg.model} ({cfg.train_scenario or 'all'}) {Path(path).parent.name}"] = row
    return table
