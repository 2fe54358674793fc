"""From dataset items to network outputs, for every model kind, over clips of any length.

One function, :func:`run`, feeds a batch of :class:`~.data.ClipDataset` items to a network and
returns per-frame or per-clip logits (or embeddings). It knows each model's input:

- ``dualcamnet``: normalised MFCC images, fed one second (12 frames) at a time as the original
  code does, so a 5-s student clip is 5 teacher clips (outputs per acoustic frame, (B, 60, C));
- ``hearnet``: the 5-s spectrogram of microphone 0, min/max-normalised per bin;
- ``soundnet5``: the 5-s waveform scaled as SoundNet expects;
- ``resnet50``: ``per_second`` video frames per second of clip (the middle frame by default),
  outputs per frame (B, K, C);
- ``avnet``: MFCC per second plus that second's middle video frame (or one per acoustic frame
  with ``per_second=12``), outputs per acoustic frame.

The visual models' ResNet-50 backbone is frozen (only ``fc`` trains, as in the original code), so
its 2048-d feature of a video frame never changes: :class:`FrameFeatures` computes it once per
(session, frame) and keeps it. Epochs after the first cost only the small trainable layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import AcamError
from .cache import SessionArrays, state_digest
from .data import FPS, Files, hearnet_spectrogram, session_key, soundnet_scale  # noqa: F401 (session_key lived here)
from .kinds import AUDIO_MODELS, MODELS, VISUAL_MODELS
from .networks import preprocess


def frame_offsets(clip_frames: int, per_second: int = 1) -> np.ndarray:
    """Video frames used by the visual models inside a clip: ``per_second`` evenly spaced frames
    in each second (1: the middle one, frame 6 of 12; 12: every frame)."""
    if clip_frames % FPS:
        raise AcamError(f"clips: expected whole seconds ({FPS} frames), found {clip_frames} frames")
    if per_second < 1 or FPS % per_second:
        raise AcamError(f"--video-per-second: expected a divisor of {FPS}, found {per_second}")
    inner = ((np.arange(per_second) + 0.5) * FPS / per_second).astype(int)
    return (np.arange(clip_frames // FPS)[:, None] * FPS + inner[None]).ravel()


class FrameFeatures:
    """Frozen ResNet-50 ``embed`` features (2048-d) of video frames, computed once per frame.

    ``backbone`` is a :class:`~.networks.ResNet50Teacher` (or the ``visual`` part of an AVNet);
    frames are read from the session file on a miss, preprocessed at ``image_size`` (the
    shorter side resized to ``image_size * 256 / 224``, then the central crop) and embedded in
    eval mode without gradients. They are kept in memory by (session path, frame index) and,
    when ``files.cache`` is set, on disk by the backbone's weights (:mod:`.cache`), where every
    later run with the same backbone finds them.
    """

    def __init__(self, backbone, image_size: int = 224, device="cpu", batch: int = 32, files: Files | None = None):
        self.backbone, self.image_size, self.device, self.batch = backbone, int(image_size), device, batch
        self.files = files or Files()
        self.cache: dict = {}
        self._disk: SessionArrays | None = None  # made on the first miss: the backbone's digest is final by then

    def disk(self) -> SessionArrays:
        if self._disk is None:
            root = self.files.cache
            folder = None if root is None else Path(root) / "frames" / f"{state_digest(self.backbone, skip=('net.fc.',))}-{self.image_size}"
            self._disk = SessionArrays(folder)
        return self._disk

    def __call__(self, sessions: list[str], frames: np.ndarray) -> torch.Tensor:
        """Features (B, K, 2048) of frames[b] (K absolute frame indices) of sessions[b]."""
        keys = [(s, int(k)) for s, row in zip(sessions, frames) for k in row]
        missing = sorted({k for k in keys if k not in self.cache})
        by_session: dict = {}
        for s, k in missing:
            hit = self.disk().get(s, str(k))
            if hit is not None:
                self.cache[(s, k)] = torch.from_numpy(hit)
            else:
                by_session.setdefault(s, []).append(k)
        for s, idx in by_session.items():
            session = self.files.session(s)
            for i in range(0, len(idx), self.batch):
                part = idx[i:i + self.batch]
                self._embed(s, part, np.stack([session.frame(k) for k in part]))
        if by_session:
            self.disk().flush()
        out = torch.stack([self.cache[k] for k in keys]).to(self.device)
        return out.reshape(len(sessions), -1, out.shape[-1])

    def images(self, frames) -> torch.Tensor:
        side = round(self.image_size * 256 / 224)
        return preprocess(frames, size=self.image_size, resize_side=side).to(self.device)

    def calibrate(self, keys: list[tuple[str, int]]) -> int:
        """Batch-norm statistics of the (random) backbone from these (session, frame) frames, in
        batches of ``self.batch``; see ``ResNet50Teacher.calibrate_batchnorm``. Clears the cache
        (the backbone is another one now)."""
        self.cache.clear()
        self._disk = None

        def batches():
            for i in range(0, len(keys), self.batch):
                yield self.images(np.stack([self.files.session(s).frame(k) for s, k in keys[i:i + self.batch]]))

        return self.backbone.calibrate_batchnorm(batches())

    def _embed(self, session, idx, frames):
        x = self.images(frames)
        was = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            z = self.backbone.embed(x).float().cpu()
        self.backbone.train(was)
        for k, row in zip(idx, z):
            self.cache[(session, int(k))] = row
            self.disk().put(session, str(int(k)), row.numpy())


@dataclass
class Context:
    """What :func:`run` needs beyond the items: the model kind, its training-split statistics
    (``{"mfcc": {mean, std}, "audio": {min, max}}``), the device, and for visual models the
    frame-feature cache and frames per second."""

    kind: str
    stats: dict
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    frames: FrameFeatures | None = None
    per_second: int = 1


def make_context(kind: str, model, stats: dict, device, image_size: int = 224, per_second: int = 1,
                 files: Files | None = None) -> Context:
    """What :func:`run` needs for ``model`` of ``kind``; ``files``: where a visual model's frames are
    read from and its features cached (:class:`FrameFeatures`)."""
    if kind not in MODELS:
        raise AcamError(f"model: expected one of {', '.join(MODELS)}, found {kind!r}")
    frames = None
    if kind in VISUAL_MODELS:
        backbone = model.visual if kind == "avnet" else model
        frames = FrameFeatures(backbone, image_size, device, files=files)
    return Context(kind, stats, torch.device(device), frames, per_second)


def _tensor(x, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)


def mfcc_input(items: list[dict], stats: dict, device) -> torch.Tensor:
    """(B, T, 12, 36, 48) MFCC images normalised with the model's own training statistics."""
    m = np.stack([it["mfcc"] for it in items])  # raw, (B, T, 12, 36, 48)
    if stats.get("mfcc") is not None:
        mean = np.asarray(stats["mfcc"]["mean"], np.float32)[:, None, None]
        std = np.asarray(stats["mfcc"]["std"], np.float32)[:, None, None]
        m = (m - mean) / std
    return _tensor(m, device)


def audio_input(kind: str, items: list[dict], stats: dict, device) -> torch.Tensor:
    if kind == "hearnet":
        lo, hi = stats["audio"]["min"], stats["audio"]["max"]
        return _tensor([(hearnet_spectrogram(it["audio"]) - lo) / np.maximum(hi - lo, 1e-9) for it in items], device)
    return _tensor([soundnet_scale(it["audio"]) for it in items], device)


def visual_features(items: list[dict], ctx: Context) -> torch.Tensor:
    """(B, K, 2048) frozen-backbone features of the clip's sampled video frames."""
    offs = frame_offsets(items[0]["frames"], ctx.per_second)
    return ctx.frames([it["session"] for it in items], np.array([it["start"] + offs for it in items]))


def run(model, items: list[dict], ctx: Context, embed: bool = False) -> torch.Tensor:
    """Logits (or, with ``embed``, the features before the head) of ``model`` on ``items``.

    Per-frame models return (B, F, ·): F = the clip's acoustic frames for dualcamnet/avnet, the
    sampled video frames for resnet50. Students return (B, ·).
    """
    k = ctx.kind
    if k in AUDIO_MODELS:
        x = audio_input(k, items, ctx.stats, ctx.device)
        return model.embed(x) if embed else model(x)
    if k == "resnet50":
        f = visual_features(items, ctx)
        return f if embed else model.from_features(f)
    m = mfcc_input(items, ctx.stats, ctx.device)
    b, t = m.shape[:2]
    if t % FPS:
        raise ValueError(f"{k} takes whole seconds of {FPS} acoustic frames, got {t}")
    n = t // FPS
    m = m.reshape(b * n, FPS, *m.shape[2:])  # one-second clips, as the original feeds them
    if k == "dualcamnet":
        out = model.embed(m) if embed else model(m)
    else:
        f = visual_features(items, ctx)  # (B, n * per_second, 2048)
        f = f.reshape(b * n, ctx.per_second, -1)
        if ctx.per_second not in (1, FPS):
            raise AcamError(f"--video-per-second: AVNet pairs each second with 1 or {FPS} video frames, found {ctx.per_second}")
        out = model.embed_from_features(m, f) if embed else model.forward_features(m, f)
    return out.reshape(b, t, -1)


def segment_means(per_frame: torch.Tensor, segments: int) -> torch.Tensor:
    """(B, F, D) per-frame teacher outputs -> (B, K, D): the mean over each of K equal spans."""
    b, f, d = per_frame.shape
    if f % segments:
        raise ValueError(f"{f} frames do not split into {segments} segments")
    return per_frame.reshape(b, segments, f // segments, d).mean(2)
