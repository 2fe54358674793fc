"""Training and distillation loops (PyTorch, CPU or GPU).

Roles:

- ``teacher``: DualCamNet on 1-s MFCC clips (12 acoustic frames), ResNet-50 on the clip's video
  frames (only ``fc`` trains), or AVNet on both; cross-entropy per frame with the clip label
  tiled over the frames, as in the published code.
- ``student``: HearNet (spectrogram) or SoundNet-5 (waveform) on 5-s clips of microphone 0.
- ``distill``: a student trained with a frozen teacher checkpoint (any of the three teachers):

  - ``soft`` (published) or ``hinton``: soft labels, the teacher's per-frame logits averaged over
    the frames that cover the 5-s clip (60 acoustic frames, or the sampled video frames);
  - ``hint``: cross-entropy on labels plus a feature hint, the student's 1024-d embedding
    regressing the teacher's clip embedding through a learned projection (learning using
    privileged information);
  - ``sequential``: cross-entropy plus per-second hints (the student's per-second features
    against the teacher's per-second mean embeddings) and an aggregated hint (a GRU over the
    student's per-second features against the teacher's clip embedding).

Seeds, checkpoints (``last.pt``, ``best.pt`` chosen on validation accuracy), resume, progress
bars and ``metrics.json`` are handled here; ``acam train`` is a thin layer on top. A checkpoint
remembers the (session, 10-s block) units it trained and validated on, so that evaluation never
scores a clip the model has seen.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AcamError
from ..io.atomic import atomic_output
from .cache import SessionArrays, cache_root, file_digest
from .data import FPS, ClipDataset, Files, class_names, dataset_split, hearnet_spectrogram, index_clips, mfcc_stats, \
    non_overlapping, session_key
from .inputs import audio_input, make_context, run, segment_means
from .kinds import AUDIO_MODELS, DISTILL_KINDS, MFCC_MODELS, MODELS, TEACHERS, TRAIN_ROLES, VISUAL_MODELS
from .losses import FeatureHint, TemporalAggregator, assert_frozen, freeze, hinton_distillation, \
    sequential_hint_loss, soft_label_distillation
from .networks import RANDOM_BACKBONE_SEED, AVNet, DualCamNet, HearNet, ResNet50Teacher, SoundNet5, load_soundnet_weights

TEACHER_FRAMES = FPS  # 1 s
STUDENT_FRAMES = 5 * FPS  # 5 s


@dataclass
class TrainConfig:
    role: str = "teacher"  # teacher | student | distill
    model: str = "dualcamnet"  # dualcamnet | resnet50 | avnet | hearnet | soundnet5
    epochs: int = 10
    batch_size: int = 16
    crops: int = 0  # training clips drawn per 10-s block and epoch, at random (0: all; the DualCam code's number_of_crops)
    lr: float = 1e-3
    seed: int = 0
    distill: str = "soft"  # soft (published) | hinton | hint | sequential
    lam: float = 0.5
    temperature: float = 1.0
    hint_weight: float = 1.0  # hint / sequential: weight of the hint term beside the label CE
    alpha: float = 0.5  # sequential: per-second vs aggregated hint
    teacher: str | None = None  # checkpoint of the teacher (distill)
    train_scenario: str | None = None  # cross-scenario: train on this one...
    test_scenario: str | None = None  # ...and test on this one
    image_size: int = 224  # visual models: crop side fed to ResNet-50
    video_per_second: int = 1  # visual models: video frames per second of clip (1: the middle one)
    visual_weights: str | None = None  # visual models: local ImageNet ResNet-50 state_dict
    audio_weights: str | None = None  # soundnet5: local SoundNet layers 1-4 (.pt state_dict or soundnet5_final.t7)
    weight_decay: float = 0.0  # L2 on the trained weights (Adam's coupled form, as slim's regularisers add it to the loss)
    split: str | None = None  # split file; default: the split.json of the dataset the sessions belong to
    cache: str | None = None  # models.cache's folder; default: the dataset's .cache; "none": in memory only
    device: str = "auto"
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        """Every setting in range, before any data is read: one line naming the setting."""
        if self.role not in TRAIN_ROLES:
            raise AcamError(f"role: expected one of {', '.join(TRAIN_ROLES)}, found {self.role!r}")
        if self.model not in MODELS:
            raise AcamError(f"--model: expected one of {', '.join(MODELS)}, found {self.model!r}")
        if (self.role == "teacher") != (self.model in TEACHERS):
            raise AcamError(f"role {self.role!r} does not go with model {self.model!r}: teachers are {', '.join(TEACHERS)}; "
                            f"students (and distillation targets) {', '.join(AUDIO_MODELS)}")
        if self.role == "distill" and self.distill not in DISTILL_KINDS:
            raise AcamError(f"--distill: expected one of {', '.join(DISTILL_KINDS)}, found {self.distill!r}")
        if self.role == "distill" and not self.teacher:
            raise AcamError("--teacher: distillation needs a teacher checkpoint")
        for name, v, lo, hi in (("--epochs", self.epochs, 1, None), ("--batch-size", self.batch_size, 1, None),
                                ("--crops", self.crops, 0, None)):
            if v < lo:
                raise AcamError(f"{name}: expected at least {lo}, found {v}")
        if not self.lr > 0:
            raise AcamError(f"--lr: expected a positive learning rate, found {self.lr}")
        if not self.weight_decay >= 0:
            raise AcamError(f"--weight-decay: expected 0 or more, found {self.weight_decay}")
        if self.audio_weights and self.model != "soundnet5":
            raise AcamError(f"--audio-weights: SoundNet-5's pretrained layers; the model is {self.model}")
        if not 0.0 <= self.lam <= 1.0 or not 0.0 <= self.alpha <= 1.0:
            raise AcamError(f"--lam, --alpha: expected values in [0, 1], found {self.lam}, {self.alpha}")
        if not self.temperature > 0:
            raise AcamError(f"--temperature: expected a positive temperature, found {self.temperature}")
        if bool(self.train_scenario) != bool(self.test_scenario):
            raise AcamError("--train-scenario, --test-scenario: cross-scenario training needs both")


def device_for(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """torch's generators seeded for the block and restored after it: a run is reproducible and
    the caller's random state is left as it was (no process-wide seeding)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def save_atomic(obj, path: Path) -> None:
    """torch.save through a temporary file: a run killed while saving keeps its last checkpoint."""
    with atomic_output(path, overwrite=True) as tmp:
        torch.save(obj, tmp)


def write_json(obj, path: Path) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float))


def build(model: str, n_classes: int, visual_weights=None, audio_weights=None) -> nn.Module:
    if model == "resnet50":
        return ResNet50Teacher(n_classes, weights_path=visual_weights)
    if model == "avnet":
        return AVNet(n_classes, resnet_weights_path=visual_weights)
    net = {"dualcamnet": DualCamNet, "hearnet": HearNet, "soundnet5": SoundNet5}[model](n_classes)
    if audio_weights:
        load_soundnet_weights(net, audio_weights)
    return net


def pretrained(cfg: dict, teacher_cfg: dict | None = None) -> bool | None:
    """Whether a model's visual backbone (or its visual teacher's) came from pretrained weights;
    None where no visual network is involved. Tables flag False: a random frozen ResNet-50 is
    not the paper's teacher."""
    for c in (cfg, teacher_cfg or {}):
        if c.get("model") in VISUAL_MODELS:
            return bool(c.get("visual_weights"))
    return None


def clip_frames(cfg: TrainConfig) -> int:
    return STUDENT_FRAMES if cfg.model in AUDIO_MODELS else TEACHER_FRAMES


def audio_stats(ds: ClipDataset) -> dict:
    """Per-bin min and max of HearNet spectrograms over the (training) dataset."""
    lo, hi = None, None
    for i in range(len(ds)):
        s = hearnet_spectrogram(ds[i]["audio"])
        lo = s.min(0) if lo is None else np.minimum(lo, s.min(0))
        hi = s.max(0) if hi is None else np.maximum(hi, s.max(0))
    return {"min": lo, "max": hi}


def _batches(n: int, size: int, rng: np.random.Generator | None, order=None):
    """Batches of ``size`` in ``order`` (default: shuffled by ``rng``, or in turn). In training
    (``rng`` given) a last batch of one clip joins the one before: batch norm cannot train on a
    single clip (SoundNet-5's conv5 has one time step: one value per channel)."""
    if order is None:
        order = rng.permutation(n) if rng is not None else np.arange(n)
    stops = list(range(0, len(order), size)) + [len(order)]
    if rng is not None and len(stops) > 2 and stops[-1] - stops[-2] == 1:
        del stops[-2]
    for a, b in zip(stops[:-1], stops[1:]):
        yield order[a:b]


def epoch_clips(clips, crops: int, rng: np.random.Generator) -> np.ndarray | None:
    """The training clips of one epoch, shuffled: ``crops`` of each (session, 10-s block)'s clips
    drawn at random (a block with fewer gives all of them), or None for all clips. Every block
    counts alike whatever its clips overlap: a student's six 5-s crops of a block hold the same
    10 s, so an epoch of one crop per block sees all the audio at a sixth of the cost."""
    if not crops:
        return None
    blocks: dict = {}
    for i, c in enumerate(clips):
        blocks.setdefault((c.session, c.block), []).append(i)
    picked = [i for idx in blocks.values() for i in (idx if len(idx) <= crops else rng.choice(idx, crops, replace=False))]
    return rng.permutation(np.array(picked, dtype=np.int64))


def clip_logits(model, items, ctx) -> torch.Tensor:
    """(B, C) clip logits: per-frame outputs are averaged over the clip's frames."""
    out = run(model, items, ctx)
    return out.mean(1) if out.dim() == 3 else out


def predict(model: nn.Module, ds: ClipDataset, ctx, batch_size: int = 32, indices=None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, predicted classes) of every clip (or of those at ``indices``); per-frame logits
    are averaged over the clip's frames."""
    model.eval()
    labels, preds = [], []
    order = np.arange(len(ds)) if indices is None else np.asarray(indices)
    with torch.no_grad():
        for idx in _batches(len(order), batch_size, None, order):
            items = [ds[int(i)] for i in idx]
            preds.append(clip_logits(model, items, ctx).argmax(1).cpu().numpy())
            labels.append(np.array([it["label"] for it in items]))
    return (np.concatenate(labels), np.concatenate(preds)) if preds else (np.zeros(0, int), np.zeros(0, int))


def accuracy(model: nn.Module, ds: ClipDataset, ctx, batch_size: int = 32, indices=None) -> float:
    """Clip accuracy (:func:`predict`)."""
    if len(ds) == 0 or (indices is not None and len(indices) == 0):
        return float("nan")
    labels, preds = predict(model, ds, ctx, batch_size, indices)
    return float(np.mean(preds == labels))


TRAIN_SCORE_CLIPS = 128  # training accuracy (an overfitting gauge) on this many training clips at most


def train_score_clips(n: int) -> np.ndarray | None:
    """The training clips the training accuracy is measured on: all, or a fixed draw of
    TRAIN_SCORE_CLIPS (a full pass over a student's overlapping crops cost a third of an epoch)."""
    return None if n <= TRAIN_SCORE_CLIPS else np.sort(np.random.default_rng(0).choice(n, TRAIN_SCORE_CLIPS, replace=False))


def prepare(cfg: TrainConfig, pairs, files: Files | None = None, teacher_kind: str | None = None) -> dict:
    """Clips, splits, classes and training-split statistics for `cfg` (``teacher_kind``: the
    distillation teacher's model, which decides whether the MFCC images are read)."""
    cfg.check()
    files = files or Files(cache=cache_root([s for s, _ in pairs], cfg.cache, cfg.split))
    # 1-s teacher clips tile the data; 5-s student clips start every second inside each 10-s block
    # (overlapping crops, as the DualCam code sampled several crops per block)
    clips = index_clips(pairs, clip_frames=clip_frames(cfg), hop_frames=TEACHER_FRAMES, files=files)
    if cfg.train_scenario or cfg.test_scenario:
        found = sorted({c.scenario for c in clips})
        for s in (cfg.train_scenario, cfg.test_scenario):
            if s not in found:
                raise AcamError(f"scenario {s!r} is in none of the sessions (they hold {', '.join(found) or 'none'})")
    split, split_file = dataset_split(clips, pairs, cfg.split, cfg.train_scenario, cfg.test_scenario, seed=cfg.seed,
                                      files=files)
    classes = class_names(clips)
    if not split["train"]:
        raise AcamError("no training clips: the sessions hold no whole clip in the training split (too short, or too few)")
    # MFCC statistics only for a network that takes the images: a student's 5-s clips overlap, and
    # reading their MFCC cost a student run more than its epochs did (6 GB for the small preset)
    stats = {"mfcc": mfcc_stats(split["train"], files) if cfg.model in MFCC_MODELS else None}
    # MFCC images are read only where a network takes them (a student distilled from ResNet-50 needs none)
    needs_mfcc = cfg.model in MFCC_MODELS or teacher_kind in MFCC_MODELS
    # trained on every crop, scored on the clips that share no audio (data.non_overlapping)
    sets = {k: ClipDataset(v if k == "train" else non_overlapping(v), classes, None, audio=cfg.model in AUDIO_MODELS,
                           mfcc=needs_mfcc, files=files) for k, v in split.items()}
    if cfg.model == "hearnet":
        stats["audio"] = audio_stats(sets["train"])
    units = sorted({(session_key(c.session), c.block) for c in split["train"] + split["validation"]})
    key = lambda part: {(session_key(c.session), c.block) for c in split[part]}  # noqa: E731
    return {"classes": classes, "stats": stats, "sets": sets, "units": units, "train_units": sorted(key("train")),
            "held_out": key("validation") | key("test"), "test_units": key("test"),
            "scenarios": sorted({c.scenario for c in split["train"]}),
            "test_scenarios": sorted({c.scenario for c in split["test"]}),
            "split_sha256": split_file.sha256 if split_file else None, "split_path": str(split_file.path) if split_file else None,
            "files": files}


def _calibrate(ctx, train_set: ClipDataset, n_frames: int = 256) -> None:
    """No pretrained ResNet-50 weights: calibrate the random backbone's batch norm on training
    frames, the same ones whatever the run's seed (the backbone is the same too: see
    ``ResNet50Teacher``), so that runs on one training set share its cached features."""
    import warnings

    warnings.warn("no pretrained ResNet-50 weights (visual_weights): the frozen backbone is random; its batch-norm "
                  "statistics are calibrated on training frames", stacklevel=3)
    frames = sorted({(c.session, c.start + k) for c in train_set.clips for k in range(c.frames)})
    pick = np.random.default_rng(RANDOM_BACKBONE_SEED).permutation(len(frames))[:n_frames]
    ctx.frames.calibrate([frames[i] for i in pick])  # shuffled: each batch mixes sessions


def _hint_modules(cfg: TrainConfig, teacher_dim: int, segment_dim: int) -> nn.ModuleDict:
    if cfg.distill == "hint":
        return nn.ModuleDict({"hint": FeatureHint(1024, teacher_dim)})
    if cfg.distill == "sequential":
        return nn.ModuleDict({"aggregator": TemporalAggregator(segment_dim, segment_dim),
                              "segment": FeatureHint(segment_dim, teacher_dim),
                              "aggregate": FeatureHint(segment_dim, teacher_dim)})
    return nn.ModuleDict()


def load_teacher(path, classes, device, held_out=None, test_units=None, test_scenarios=None, split_sha256=None,
                 files: Files | None = None):
    """A frozen teacher checkpoint and the context to run it (its own statistics).

    ``held_out``: the (session, block) units the student validates and tests on, ``test_units``
    those it tests on. A teacher that trained on any held-out unit, or validated on a test unit,
    is refused (one that validated on the student's own validation units, as a shared split
    gives, is not), as is one whose split file is not the student's (``split_sha256``), and one
    that trained on a scenario in
    ``test_scenarios`` (a cross-scenario student's test scenario): distilling from it would carry
    what it learnt of the student's test data, labels included, into the student."""
    teacher, ck = load_checkpoint(path, device)
    tcfg = TrainConfig(**ck["config"])
    if tcfg.model not in TEACHERS:
        raise AcamError(f"{path}: a {tcfg.model} checkpoint is not a teacher ({', '.join(TEACHERS)})")
    if ck["classes"] != classes:
        raise AcamError(f"{path}: classes: expected the data's {classes}, found the teacher's {ck['classes']}")
    theirs = ck.get("split_sha256")
    if split_sha256 and theirs and theirs != split_sha256:
        raise AcamError(f"{path}: split_sha256: expected the student's split file ({split_sha256[:12]}...), found the teacher "
                        f"trained on another ({theirs[:12]}...): train both with the dataset's one split")
    if held_out is not None:
        units = {tuple(u) for u in ck.get("units", [])}
        # checkpoints from before train_units was kept: all their units count as trained on
        trained = {tuple(u) for u in ck["train_units"]} if "train_units" in ck else units
        seen = (trained & {tuple(u) for u in held_out}) | ((units - trained) & {tuple(u) for u in test_units or ()})
        if seen:
            names = ", ".join(f"{s} block {b}" for s, b in sorted(seen)[:3])
            raise AcamError(f"{path}: units: expected a teacher that never trained or validated on the student's validation "
                            f"and test blocks, found {len(seen)} of them in its training ({names}{', ...' if len(seen) > 3 else ''}); "
                            "train both on the same sessions (they split alike), or the teacher on other sessions")
    trained_on = ck.get("scenarios") or ([tcfg.train_scenario] if tcfg.train_scenario else None)
    if test_scenarios and trained_on:
        met = sorted(set(trained_on) & set(test_scenarios))
        if met:
            raise AcamError(f"{path}: scenarios: expected a teacher that never trained on this cross-scenario run's test "
                            f"scenario {', '.join(test_scenarios)}, found it trained on {', '.join(trained_on)}")
    freeze(teacher)
    ctx = make_context(tcfg.model, teacher, ck["stats"], device, tcfg.image_size, tcfg.video_per_second, files)
    return teacher, ctx


class TeacherOutputs:
    """A frozen teacher's outputs on clips, each computed once: kept in memory and, with a cache
    folder, on disk by the checkpoint file's digest (:mod:`.cache`), where the other students
    distilled from the same teacher, and later epochs, find them. ``embed``: the features before
    the head instead of the logits."""

    def __init__(self, teacher, tctx, checkpoint, root=None):
        self.teacher, self.tctx = teacher, tctx
        digest = file_digest(checkpoint) if root is not None else ""
        self.stores = {e: SessionArrays(None if root is None else Path(root) / "teacher" / f"{digest}-{'embedding' if e else 'logits'}")
                       for e in (False, True)}

    def __call__(self, items: list[dict], embed: bool = False) -> torch.Tensor:
        store = self.stores[bool(embed)]
        keys = [f"{it['start']}_{it['frames']}" for it in items]
        got = [store.get(it["session"], k) for it, k in zip(items, keys)]
        todo = [i for i, g in enumerate(got) if g is None]
        if todo:
            with torch.no_grad():
                out = run(self.teacher, [items[i] for i in todo], self.tctx, embed=embed).float().cpu().numpy()
            for i, o in zip(todo, out):
                got[i] = o
                store.put(items[i]["session"], keys[i], o)
            store.flush()
        return torch.from_numpy(np.stack(got)).to(self.tctx.device)


def _teacher_dim(teacher, tctx, items) -> int:
    with torch.no_grad():
        return int(run(teacher, items[:1], tctx, embed=True).shape[-1])


def _distill_loss(cfg, model, items, y, ctx, touts, aux) -> torch.Tensor:
    t = touts(items, embed=cfg.distill in ("hint", "sequential"))  # (B, F, ·)
    if cfg.distill in ("soft", "hinton"):
        out = run(model, items, ctx)
        fn = soft_label_distillation if cfg.distill == "soft" else hinton_distillation
        return fn(out, y, t, lam=cfg.lam, T=cfg.temperature)
    x = audio_input(cfg.model, items, ctx.stats, ctx.device)
    seconds = items[0]["frames"] // FPS
    emb, seg = model.features(x, segments=seconds if cfg.distill == "sequential" else None)
    ce = nn.functional.cross_entropy(model.head(emb), y)
    if cfg.distill == "hint":
        return ce + cfg.hint_weight * aux["hint"](emb, t.mean(1))
    hint = sequential_hint_loss(seg, segment_means(t, seconds), aux["aggregator"](seg), t.mean(1),
                                proj_seg=aux["segment"], proj_agg=aux["aggregate"], alpha=cfg.alpha)
    return ce + cfg.hint_weight * hint


def train(cfg: TrainConfig, pairs, out_dir, resume: bool = False, progress: bool = True) -> dict:
    """Train per `cfg` on (session, acoustic) pairs; writes last.pt, best.pt and metrics.json."""
    cfg.check()
    device = device_for(cfg.device)
    with seeded(cfg.seed, device):
        return _train(cfg, pairs, Path(out_dir), resume, progress, device)


def _train(cfg, pairs, out_dir, resume, progress, device) -> dict:
    from tqdm import tqdm

    teacher_cfg = None
    if cfg.role == "distill":  # a wrong teacher file is named before any data is read
        teacher_cfg = peek_checkpoint(cfg.teacher).get("config", {})
    data = prepare(cfg, pairs, teacher_kind=(teacher_cfg or {}).get("model"))
    classes, sets = data["classes"], data["sets"]
    model = build(cfg.model, len(classes), cfg.visual_weights, cfg.audio_weights if not resume else None).to(device)
    files = data["files"]
    ctx = make_context(cfg.model, model, data["stats"], device, cfg.image_size, cfg.video_per_second, files)
    if ctx.frames is not None and not cfg.visual_weights and not resume:
        _calibrate(ctx, sets["train"])
    teacher = tctx = None
    aux = nn.ModuleDict()
    if cfg.role == "distill":
        cross = [s for s in data["test_scenarios"] if s != cfg.train_scenario] if cfg.train_scenario else None
        teacher, tctx = load_teacher(cfg.teacher, classes, device, held_out=data["held_out"], test_units=data["test_units"],
                                     test_scenarios=cross, split_sha256=data["split_sha256"], files=files)
        touts = TeacherOutputs(teacher, tctx, cfg.teacher, files.cache)
        if cfg.distill in ("hint", "sequential"):
            aux = _hint_modules(cfg, _teacher_dim(teacher, tctx, [sets["train"][0]]), model.SEGMENT_DIM).to(device)
    out_dir.mkdir(parents=True, exist_ok=True)  # only once the data and the teacher are known good
    params = [p for p in list(model.parameters()) + list(aux.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, best, history = 0, -1.0, []
    last = out_dir / "last.pt"
    if resume and last.exists():
        ck = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        aux.load_state_dict(ck.get("aux", {}))
        opt.load_state_dict(ck["optimizer"])
        start, best, history = ck["epoch"] + 1, ck["best"], ck["history"]
    rng = np.random.default_rng(cfg.seed + start)
    ce = nn.CrossEntropyLoss()
    for epoch in range(start, cfg.epochs):
        model.train()
        aux.train()
        losses = []
        order = epoch_clips(sets["train"].clips, cfg.crops, rng)
        bar = tqdm(list(_batches(len(sets["train"]), cfg.batch_size, rng, order)), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not progress, leave=False)
        for idx in bar:
            items = [sets["train"][int(i)] for i in idx]
            y = torch.tensor([it["label"] for it in items], device=device)
            if cfg.role == "distill":
                loss = _distill_loss(cfg, model, items, y, ctx, touts, aux)
            else:
                out = run(model, items, ctx)
                if out.dim() == 3:  # per-frame outputs: the clip label tiled over the frames
                    loss = ce(out.reshape(-1, out.shape[-1]), y.repeat_interleave(out.shape[1]))
                else:
                    loss = ce(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        if teacher is not None:
            assert_frozen(teacher)  # the teacher neither trained nor received a gradient
        val = accuracy(model, sets["validation"], ctx)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else None, "val_accuracy": val})
        state = {"model": model.state_dict(), "aux": aux.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                 "best": best, "history": history, "config": asdict(cfg), "classes": classes, "stats": data["stats"],
                 "units": data["units"], "train_units": data["train_units"], "scenarios": data["scenarios"],
                 "split_sha256": data["split_sha256"], "teacher_model": tctx.kind if tctx is not None else None,
                 "pretrained": pretrained(asdict(cfg), teacher_cfg)}
        # ties: the later, longer-trained model; no validation clips: nothing to choose by, the last epoch
        if np.isnan(val) or val >= best:
            best = val
            state["best"] = best
            save_atomic(state, out_dir / "best.pt")
        save_atomic(state, last)
    best_model, _ = load_checkpoint(out_dir / "best.pt", device)
    bctx = make_context(cfg.model, best_model, data["stats"], device, cfg.image_size, cfg.video_per_second, files)
    if ctx.frames is not None:
        bctx.frames.cache = ctx.frames.cache  # same frozen backbone: reuse its features
    metrics = {"config": asdict(cfg), "classes": classes, "history": history, "best_val_accuracy": best,
               "best_is": "the last epoch (no validation clips)" if np.isnan(best) else "the best validation epoch",
               "split_sha256": data["split_sha256"], "split_path": data["split_path"],
               "pretrained": pretrained(asdict(cfg), teacher_cfg),
               "test_accuracy": accuracy(best_model, sets["test"], bctx),
               "train_accuracy": accuracy(best_model, sets["train"], bctx, indices=train_score_clips(len(sets["train"]))),
               "chance": 1.0 / max(len(classes), 1), "sizes": {k: len(v) for k, v in sets.items()},
               "device": str(device)}
    write_json(metrics, out_dir / "metrics.json")
    return metrics


_UNREADABLE = (KeyError, TypeError, AttributeError, RuntimeError, EOFError, OSError, io.UnsupportedOperation,
               pickle.UnpicklingError)


def peek_checkpoint(path) -> dict:
    """A checkpoint's entries without loading its weights (memory-mapped: a teacher's 100 MB of
    weights are not read); an AcamError names a missing file or one that is not a checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise AcamError(f"{path}: no such checkpoint")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        if not isinstance(ck, dict) or not ({"kind", "config"} & set(ck)):
            raise TypeError("not a checkpoint dictionary")
    except _UNREADABLE as exc:
        raise AcamError(f"{path}: not an acam checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    return ck


def load_checkpoint(path, device="cpu"):
    """(model in eval mode, checkpoint dict); errors name the file."""
    path = Path(path)
    peek_checkpoint(path)
    try:
        ck = torch.load(path, map_location=device, weights_only=False)
        model = build(ck["config"]["model"], len(ck["classes"])).to(device)
        model.load_state_dict(ck["model"])
    except _UNREADABLE as exc:
        raise AcamError(f"{path}: not an acam checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    model.eval()
    return model, ck


def checkpoint_context(model, ck, device, files: Files | None = None):
    cfg = TrainConfig(**ck["config"])
    return cfg, make_context(cfg.model, model, ck["stats"], device, cfg.image_size, cfg.video_per_second, files)


__all__ = ["TrainConfig", "train", "load_checkpoint", "load_teacher", "accuracy", "predict", "clip_logits", "prepare",
           "build", "clip_frames", "device_for", "checkpoint_context", "DISTILL_KINDS", "VISUAL_MODELS"]
