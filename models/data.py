"""Datasets for the models: aligned clips from acam sessions and their `acam beamform` outputs.

An item is a clip of ``clip_frames`` consecutive video frames (12 = 1 s for the DualCamNet
teacher, 60 = 5 s for the students) and yields, aligned on the session's audio clock:

- ``mfcc``: (clip_frames, 12, 36, 48) MFCC acoustic images (time, coefficient, row, column);
- ``audio``: one microphone (index ``mic``, 0 as in the DualCam pipeline) over the same frames,
  resampled to 22,050 Hz (float32);
- ``video``: (clip_frames, H, W, 3) uint8 frames, only with ``video=True`` (they are large);
- ``label`` (class index), ``scenario``, ``subject``, ``session``, ``start`` (first frame).

Splits follow the DualCam code: 10-second blocks of every session, shuffled with a seed, 80/10/10
(train/validation/test); and cross-scenario splits (train on scenario A, test on B).
Normalisation statistics come from the training split only (:func:`mfcc_stats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import h5py
import numpy as np
from scipy import signal

STUDENT_RATE = 22050


@dataclass(frozen=True)
class Clip:
    session: str
    acoustic: str
    start: int  # first video frame
    frames: int
    label: str
    scenario: str
    subject: str
    block: int  # 10-second block of its session, the unit of splitting


def _session_meta(path):
    with h5py.File(path, "r") as f:
        a = f.attrs
        n = f["video/sample_index"].shape[0]
        fps = float(a.get("video_fps", 12.0))
        return str(a.get("label", "")).split(",")[0], str(a.get("scenario", "")), str(a.get("subject", "")), n, fps


def index_clips(pairs, clip_frames: int = 12, hop_frames: int | None = None, block_seconds: float = 10.0) -> list[Clip]:
    """Clips over (session, acoustic-file) pairs; clips never straddle a 10-second block, so a
    split by blocks never puts overlapping audio in two splits."""
    hop = hop_frames or clip_frames
    clips = []
    for session, acoustic in pairs:
        label, scenario, subject, n, fps = _session_meta(session)
        with h5py.File(acoustic, "r") as f:
            if "mfcc" not in f:
                raise ValueError(f"{acoustic}: /mfcc: expected MFCC features (acam beamform --features mfcc)")
            if f["mfcc"].shape[0] != n:
                raise ValueError(f"{acoustic}: /mfcc: expected {n} frames as in {session}, found {f['mfcc'].shape[0]}")
        per_block = max(int(round(block_seconds * fps)), clip_frames)
        for b0 in range(0, n, per_block):
            for s in range(b0, min(n, b0 + per_block) - clip_frames + 1, hop):
                clips.append(Clip(str(session), str(acoustic), s, clip_frames, label, scenario, subject, b0 // per_block))
    return clips


def split_blocks(clips: list[Clip], seed: int = 42, fractions=(0.8, 0.1, 0.1)) -> dict[str, list[Clip]]:
    """Train/validation/test by shuffled (session, block) units, as the DualCam lists were made."""
    units = sorted({(c.session, c.block) for c in clips})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(units))
    n_train = int(round(fractions[0] * len(units)))
    n_val = int(round(fractions[1] * len(units)))
    part = {}
    for rank, i in enumerate(order):
        part[units[i]] = "train" if rank < n_train else "validation" if rank < n_train + n_val else "test"
    out = {"train": [], "validation": [], "test": []}
    for c in clips:
        out[part[(c.session, c.block)]].append(c)
    return out


def split_scenarios(clips: list[Clip], train: str, test: str, seed: int = 42, val_fraction: float = 0.1) -> dict:
    """Train (and validate) on scenario `train`, test on scenario `test`."""
    a = [c for c in clips if c.scenario == train]
    tv = split_blocks(a, seed, (1 - val_fraction, val_fraction, 0.0))
    return {"train": tv["train"], "validation": tv["validation"], "test": [c for c in clips if c.scenario == test]}


def class_names(clips: list[Clip]) -> list[str]:
    return sorted({c.label for c in clips})


def mfcc_stats(clips: list[Clip]) -> dict:
    """Per-coefficient mean and std of the MFCC images over the given (training) clips."""
    s1 = np.zeros(12)
    s2 = np.zeros(12)
    n = 0
    for c in clips:
        with h5py.File(c.acoustic, "r") as f:
            m = f["mfcc"][c.start:c.start + c.frames].astype(np.float64)  # (T, 36, 48, 12)
        s1 += m.sum(axis=(0, 1, 2))
        s2 += (m**2).sum(axis=(0, 1, 2))
        n += m.shape[0] * m.shape[1] * m.shape[2]
    mean = s1 / max(n, 1)
    std = np.sqrt(np.maximum(s2 / max(n, 1) - mean**2, 1e-12))
    return {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}


def resample_to(x: np.ndarray, rate: float, target: int = STUDENT_RATE) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio (12000 -> 22050 is 147/80)."""
    r = Fraction(target) / Fraction(rate).limit_denominator(1000)
    return signal.resample_poly(x, r.numerator, r.denominator).astype(np.float32)


def soundnet_scale(wave: np.ndarray) -> np.ndarray:
    """As the DualCam code feeds SoundNet: scaled to [-1, 1] by its peak, times 256."""
    peak = float(np.abs(wave).max()) or 1.0
    return (wave / peak * 256.0).astype(np.float32)


def hearnet_spectrogram(wave: np.ndarray) -> np.ndarray:
    """(time, 257) magnitude STFT at 22,050 Hz: 440-sample windows, 220 hop, 512-point FFT, no
    log (500 frames for 5 s)."""
    n = 1 + (len(wave) - 440) // 220
    idx = np.arange(440)[None, :] + 220 * np.arange(n)[:, None]
    frames = wave[idx] * np.hanning(442)[1:-1].astype(np.float32)
    return np.abs(np.fft.rfft(frames, 512, axis=1)).astype(np.float32)


class ClipDataset:
    """A map-style dataset (works as a torch ``Dataset``) over clips. ``stats`` from
    :func:`mfcc_stats` on the training split normalises the MFCC images."""

    def __init__(self, clips: list[Clip], classes: list[str], stats: dict | None = None, mic: int = 0,
                 audio: bool = True, video: bool = False):
        self.clips, self.classes, self.stats, self.mic = clips, list(classes), stats, mic
        self.audio, self.video = audio, video
        self._index = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        c = self.clips[i]
        with h5py.File(c.acoustic, "r") as f:
            m = f["mfcc"][c.start:c.start + c.frames].astype(np.float32)  # (T, 36, 48, 12)
        if self.stats is not None:
            m = (m - self.stats["mean"]) / self.stats["std"]
        item = {"mfcc": np.ascontiguousarray(m.transpose(0, 3, 1, 2)), "label": self._index.get(c.label, -1),
                "scenario": c.scenario, "subject": c.subject, "session": c.session, "acoustic": c.acoustic,
                "start": c.start}
        if self.audio or self.video:
            with h5py.File(c.session, "r") as f:
                fsi = f["video/sample_index"]
                n_frames = fsi.shape[0]
                a = int(fsi[c.start])
                end_frame = c.start + c.frames
                b = int(fsi[end_frame]) if end_frame < n_frames else f["time_data"].shape[0]
                if self.audio:
                    rate = float(f["time_data"].attrs["sample_freq"])
                    item["audio"] = resample_to(f["time_data"][a:b, self.mic], rate)
                if self.video:
                    item["video"] = f["video/frames"][c.start:c.start + c.frames]
        return item
