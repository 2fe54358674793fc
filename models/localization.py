"""Contrastive audio-visual sound-source localisation, with hints from frozen teachers.

Two encoders are trained together on (5-s audio clip of microphone 0, the clip's middle video
frame) pairs:

- the audio encoder: HearNet's trunk (spectrogram -> 1024-d) and a linear map to ``dim``;
- the visual encoder: a small fully convolutional network on the whole frame (aspect kept,
  ``frame_size`` = (width, height), 160x120 by default) giving a ``dim`` x H/8 x W/8 feature map.

The loss is the symmetric InfoNCE of :func:`~.losses.info_nce_av` (temperature 0.03, max-pooled
similarity over locations), so that the cosine-similarity map between a clip's audio embedding
and its frame's feature map peaks where the sound is. Optional feature hints add privileged
information from frozen teachers: the audio embedding regresses a DualCamNet checkpoint's clip
embedding (the acoustic-image teacher), and the frame's pooled visual feature a ResNet-50 (or
AVNet) checkpoint's frame embedding, each through a learned projection.

Evaluation (:func:`evaluate_localizer`) compares the map's peak with the simulated truth pixel of
the sounding source in the middle frame, beside two references: the centre of the picture, and
the acoustic camera itself (the peak of the beamformed MFCC energy image, coefficient 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..beamform.features import band_energy_db
from ..errors import AcamError
from ..io.atomic import atomic_output
from .cache import cache_root
from .data import FPS, ClipDataset, Files, class_names, dataset_split, index_clips, mfcc_stats, session_key
from .evaluation import independent_clips
from .inputs import audio_input, run
from .losses import FeatureHint, freeze, info_nce_av, localization_map, peak_pixel
from .networks import IMAGENET_MEAN, IMAGENET_STD, HearNet
from .train import STUDENT_FRAMES, _batches, audio_stats, device_for, load_teacher, peek_checkpoint, save_atomic, seeded, \
    write_json

MIDDLE = STUDENT_FRAMES // 2  # the clip's video frame: its middle (frame 30 of 60)


@dataclass
class LocalizeConfig:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    dim: int = 128
    temperature: float = 0.03
    pooling: str = "max"
    frame_width: int = 160
    frame_height: int = 120
    audio_teacher: str | None = None  # DualCamNet checkpoint: hint for the audio embedding
    visual_teacher: str | None = None  # ResNet-50 / AVNet checkpoint: hint for the visual feature
    audio_hint: float = 1.0
    visual_hint: float = 1.0
    map_hint: float = 0.0  # weight of the acoustic-image map hint (the acoustic camera as spatial teacher)
    # weight of a cross-entropy on the clip's class, read by one linear layer from the audio
    # embedding and from the visual feature where the acoustic camera's map peaks: the label says
    # what sounds, the array where, so the audio and the figure that makes it meet in one space
    label_hint: float = 0.0
    split: str | None = None  # split file; default: the split.json of the dataset the sessions belong to
    device: str = "auto"


class AudioEncoder(nn.Module):
    """HearNet trunk (B, 500, 257) -> 1024-d, then a two-layer projection to ``dim``;
    ``forward`` -> (embedding, trunk feature)."""

    def __init__(self, dim: int):
        super().__init__()
        self.trunk = HearNet(1)
        self.trunk.head = nn.Identity()
        # a normalised projection: at initialisation the trunk's clip embeddings differ by ~1 %
        # (cosine > 0.93 across a batch), too little for InfoNCE to start from. Layer/group norm,
        # not batch norm: a batch's statistics differ from the running ones a trained localiser
        # is evaluated with, and the maps did not survive that switch
        self.proj = nn.Sequential(nn.Linear(1024, 512), nn.LayerNorm(512), nn.ReLU(inplace=True), nn.Linear(512, dim))

    def forward(self, x):
        h = self.trunk.embed(x)
        return self.proj(h), h


class VisualEncoder(nn.Module):
    """Frames (B, 3, H, W) -> feature map (B, dim, H/8, W/8); stride-2 3x3 conv blocks with group
    norm, then a 3x3 and a 1x1 conv (the map keeps the picture's geometry: no global pooling)."""

    def __init__(self, dim: int):
        super().__init__()
        chans = (3, 32, 64, 128)
        blocks = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            blocks += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True)]
        blocks += [nn.Conv2d(128, 128, 3, padding=1), nn.GroupNorm(8, 128), nn.ReLU(inplace=True), nn.Conv2d(128, dim, 1)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x):
        return self.net(x)


def frame_tensor(frames: np.ndarray, size: tuple[int, int], device) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, h, w) ImageNet-normalised, resized to size = (w, h)."""
    x = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]).astype(np.float32) / 255.0
    x = (x - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)


def middle_frames(items, files: Files) -> np.ndarray:
    """(B, H, W, 3) RGB: each clip's middle video frame, the one the localiser looks at."""
    return np.stack([files.session(it["session"]).frame(it["start"] + MIDDLE) for it in items])


def acoustic_map(item, files: Files, half_window: int = 3) -> np.ndarray:
    """(36, 48) dB map of the acoustic camera for the clip's middle frame: the band energy
    (``energy_db``, or from the stored volumes without it; the MFCC images cannot stand in: they
    hold c1..c12, the energy c0 is dropped) of the frame within +-half_window with the highest
    peak-to-median contrast, so that an impulsive sound (a clap) is caught at its burst."""
    a = files.acoustic(item["acoustic"])
    k0 = max(item["start"] + MIDDLE - half_window, 0)
    k1 = item["start"] + MIDDLE + half_window + 1
    if a.energy_db is not None:
        m = a.energy_db[k0:k1]
    elif a.volumes is not None:
        m = band_energy_db(a.volumes[k0:k1], a.frequencies, a.band)
    else:
        raise AcamError(f"{a.path}: /energy_db: expected band-energy maps (acam beamform --features mfcc,energy) or "
                        "volumes; found MFCC images only, which hold c1..c12 and no energy")
    flat = m.reshape(len(m), -1)
    return m[int(np.argmax(flat.max(1) - np.median(flat, 1)))].astype(np.float32)


def map_target(maps_db: list[np.ndarray], shape: tuple[int, int], sharpness: float = 2.0) -> torch.Tensor:
    """Acoustic maps (dB) -> (B, h*w) distributions on the visual grid: power ** sharpness,
    area-resampled to (h, w) and normalised to sum 1."""
    h, w = shape
    out = []
    for m in maps_db:
        p = cv2.resize(10.0 ** ((m - m.max()) / 10.0), (w, h), interpolation=cv2.INTER_AREA) ** sharpness
        out.append(p.ravel() / p.sum())
    return torch.from_numpy(np.stack(out).astype(np.float32))


def map_hint_loss(audio_emb: torch.Tensor, visual_map: torch.Tensor, target: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """KL(target || softmax over locations of the clip's own similarity map / temperature)."""
    s = localization_map(audio_emb, visual_map).flatten(1) / temperature
    t = target.to(s.device)
    return (t * (torch.log(t.clamp_min(1e-12)) - torch.log_softmax(s, dim=1))).sum(1).mean()


def _truth(item, files: Files) -> tuple[np.ndarray, bool] | None:
    """Truth pixel (u, v) of the first source in the clip's middle frame, and whether it is visible
    and sounding there; None for sessions without truth (recorded ones)."""
    t = files.session(item["session"]).truth
    if t is None:
        return None
    k = item["start"] + MIDDLE
    return t.pixel[k, 0].astype(float), bool(t.visible[k, 0] and t.active[k, 0])


class Localizer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.audio = AudioEncoder(dim)
        self.visual = VisualEncoder(dim)

    def maps(self, spec: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """(B, h, w) cosine-similarity maps of each clip's audio with its own frame."""
        a, _ = self.audio(spec)
        return localization_map(a, self.visual(frames))


def _teacher_targets(items, teachers, cache: dict | None = None) -> dict:
    """Frozen teachers' targets per item, computed once per clip when ``cache`` is given."""
    if cache is not None and teachers:
        keys = [(it["session"], it["start"]) for it in items]
        todo = [it for it, k in zip(items, keys) if k not in cache]
        if todo:
            fresh = _teacher_targets(todo, teachers)
            for j, it in enumerate(todo):
                cache[(it["session"], it["start"])] = {n: t[j] for n, t in fresh.items()}
        return {n: torch.stack([cache[k][n] for k in keys]) for n in teachers}
    out = {}
    with torch.no_grad():
        if "audio" in teachers:
            t, ctx = teachers["audio"]
            out["audio"] = run(t, items, ctx, embed=True).mean(1)  # clip embedding
        if "visual" in teachers:
            t, ctx = teachers["visual"]
            e = run(t, items, ctx, embed=True)  # per frame; the one nearest the middle frame
            out["visual"] = e[:, e.shape[1] // 2]
    return out


def train_localizer(cfg: LocalizeConfig, pairs, out_dir, progress: bool = True) -> dict:
    """Train on (session, acoustic) pairs; writes ``localizer.pt`` and ``metrics.json``."""
    device = device_for(cfg.device)
    with seeded(cfg.seed, device):
        return _train_localizer(cfg, pairs, Path(out_dir), progress, device)


def _train_localizer(cfg, pairs, out_dir, progress, device) -> dict:
    from tqdm import tqdm

    files = Files(cache=cache_root([s for s, _ in pairs]))
    clips = index_clips(pairs, clip_frames=STUDENT_FRAMES, hop_frames=FPS, files=files)
    split, split_file = dataset_split(clips, pairs, cfg.split, files=files)
    classes = class_names(clips)
    key = lambda part: {(session_key(c.session), c.block) for c in split[part]}  # noqa: E731
    held, tested = key("validation") | key("test"), key("test")
    train_set = ClipDataset(split["train"], classes, None, audio=True, files=files)
    stats = {"mfcc": mfcc_stats(split["train"], files), "audio": audio_stats(train_set)}
    model = Localizer(cfg.dim).to(device)
    teachers, aux = {}, nn.ModuleDict()
    probe = [train_set[0]]
    if cfg.audio_teacher:
        teachers["audio"] = load_teacher(cfg.audio_teacher, classes, device, held_out=held, test_units=tested, files=files)
        aux["audio"] = FeatureHint(1024, int(_teacher_targets(probe, teachers)["audio"].shape[-1]))
    if cfg.visual_teacher:
        teachers["visual"] = load_teacher(cfg.visual_teacher, classes, device, held_out=held, test_units=tested, files=files)
        aux["visual"] = FeatureHint(cfg.dim, int(_teacher_targets(probe, teachers)["visual"].shape[-1]))
    if cfg.label_hint:
        aux["labels"] = nn.Linear(cfg.dim, len(classes))
    aux.to(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.Adam(list(model.parameters()) + list(aux.parameters()), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    size = (cfg.frame_width, cfg.frame_height)
    history, cache = [], {}
    for epoch in range(cfg.epochs):
        model.train()
        parts = {"nce": [], "audio_hint": [], "visual_hint": [], "map_hint": [], "label_hint": []}
        for idx in tqdm(list(_batches(len(train_set), cfg.batch_size, rng)), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                        disable=not progress, leave=False):
            if len(idx) < 2:
                continue  # InfoNCE needs negatives
            items = [train_set[int(i)] for i in idx]
            a, h = model.audio(audio_input("hearnet", items, stats, device))
            v = model.visual(frame_tensor(middle_frames(items, files), size, device))
            loss = nce = info_nce_av(a, v, cfg.temperature, cfg.pooling)
            parts["nce"].append(float(nce.detach()))
            targets = _teacher_targets(items, teachers, cache)
            if "audio" in targets:
                la = aux["audio"](h, targets["audio"])
                loss = loss + cfg.audio_hint * la
                parts["audio_hint"].append(float(la.detach()))
            if "visual" in targets:
                lv = aux["visual"](v.mean((2, 3)), targets["visual"])
                loss = loss + cfg.visual_hint * lv
                parts["visual_hint"].append(float(lv.detach()))
            target = None
            if cfg.map_hint or cfg.label_hint:
                target = map_target([acoustic_map(it, files) for it in items], v.shape[2:])
            if cfg.map_hint:
                lm = map_hint_loss(a, v, target, cfg.temperature)
                loss = loss + cfg.map_hint * lm
                parts["map_hint"].append(float(lm.detach()))
            if cfg.label_hint:
                y = torch.tensor([it["label"] for it in items], device=device)
                where = target.argmax(1).to(device)
                seen = v.flatten(2)[torch.arange(len(items), device=device), :, where]  # (B, dim) at the array's peak
                ll = nn.functional.cross_entropy(aux["labels"](a), y) + nn.functional.cross_entropy(aux["labels"](seen), y)
                loss = loss + cfg.label_hint * ll
                parts["label_hint"].append(float(ll.detach()))
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append({"epoch": epoch + 1, **{k: float(np.mean(x)) for k, x in parts.items() if x}})
    for t, _ in teachers.values():
        freeze(t)
    state = {"kind": "localizer", "model": model.state_dict(), "config": asdict(cfg), "classes": classes,
             "stats": stats, "history": history, "units": sorted(key("train") | key("validation")),
             "split_sha256": split_file.sha256 if split_file else None}
    save_atomic(state, out_dir / "localizer.pt")
    metrics = {"config": asdict(cfg), "history": history, "sizes": {k: len(v) for k, v in split.items()},
               "validation": evaluate_localizer(out_dir / "localizer.pt", [], device=str(device),
                                                clips=split["validation"] + split["test"])}
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def load_localizer(path, device="cpu"):
    ck = torch.load(path, map_location=device, weights_only=False)
    if ck.get("kind") != "localizer":
        raise AcamError(f"{path}: not a localizer checkpoint (acam train localize)")
    model = Localizer(ck["config"]["dim"]).to(device)
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


def is_localizer(path) -> bool:
    return peek_checkpoint(path).get("kind") == "localizer"


def evaluate_localizer(checkpoint, pairs, device: str = "auto", radius: float = 64.0, clips=None,
                       picture=None, overwrite: bool = False) -> dict:
    """Peak-pixel error against the truth pixel, over 5-s clips whose middle frame shows the
    source sounding: mean and median error (px) and the fraction within ``radius`` px, for the
    model, the picture's centre and the acoustic camera's own MFCC-energy peak. ``picture``
    writes a PNG of the first clips' maps over their frames, truth in green, peak in white."""
    dev = device_for(device)
    model, ck = load_localizer(checkpoint, dev)
    cfg = LocalizeConfig(**ck["config"])
    files = Files(cache=cache_root([s for s, _ in pairs]))
    if clips is None:
        clips = index_clips(pairs, clip_frames=STUDENT_FRAMES, hop_frames=FPS, files=files)
    ds = ClipDataset(clips, ck["classes"], None, audio=True, files=files)
    err = {"model": [], "centre": [], "acoustic_camera": []}
    scored = []
    shown = []
    with torch.no_grad():
        for idx in _batches(len(ds), 16, None):
            items = [ds[int(i)] for i in idx]
            kept = [(i, it, t[0]) for i, it in zip(idx, items) if (t := _truth(it, files)) is not None and t[1]]
            scored += [ds.clips[int(i)] for i, _, _ in kept]
            keep = [(it, truth) for _, it, truth in kept]
            if not keep:
                continue
            items = [it for it, _ in keep]
            frames = middle_frames(items, files)
            h, w = frames.shape[1:3]
            maps = model.maps(audio_input("hearnet", items, ck["stats"], dev),
                              frame_tensor(frames, (cfg.frame_width, cfg.frame_height), dev)).cpu()
            for (it, truth), m, fr in zip(keep, maps, frames):
                p = np.array(peak_pixel(m, (w, h)))
                c0 = acoustic_map(it, files)
                err["model"].append(np.hypot(*(p - truth)))
                err["centre"].append(np.hypot(*(np.array([(w - 1) / 2, (h - 1) / 2]) - truth)))
                err["acoustic_camera"].append(np.hypot(*(np.array(peak_pixel(c0, (w, h))) - truth)))
                if picture is not None and len(shown) < 8:
                    shown.append(overlay_map(fr, m.numpy(), truth, p))
    out = {"clips": len(err["model"]), "independent": independent_clips(scored), "radius_px": radius}
    for k, e in err.items():
        e = np.array(e)
        out[k] = {"mean_px": float(e.mean()) if len(e) else float("nan"),
                  "median_px": float(np.median(e)) if len(e) else float("nan"),
                  "within_radius": float((e <= radius).mean()) if len(e) else float("nan")}
    if picture is not None and shown:
        rows = [np.concatenate(shown[i:i + 4] + [np.zeros_like(shown[0])] * (4 - len(shown[i:i + 4])), axis=1)
                for i in range(0, len(shown), 4)]
        with atomic_output(picture, overwrite=overwrite) as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
        out["picture"] = str(picture)
    return out


def overlay_map(frame: np.ndarray, m: np.ndarray, truth, peak) -> np.ndarray:
    """The map over the frame (inferno, half opacity), the truth circled green, the peak a white cross."""
    h, w = frame.shape[:2]
    z = (m - m.min()) / max(float(m.max() - m.min()), 1e-9)
    heat = cv2.applyColorMap(cv2.resize((z * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC),
                             cv2.COLORMAP_INFERNO)[..., ::-1]
    img = (0.5 * frame + 0.5 * heat).astype(np.uint8)
    cv2.circle(img, (int(round(truth[0])), int(round(truth[1]))), 14, (0, 255, 0), 3)
    cv2.drawMarker(img, (int(round(peak[0])), int(round(peak[1]))), (255, 255, 255), cv2.MARKER_CROSS, 24, 3)
    return img
