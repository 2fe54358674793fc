"""Datasets for the models: aligned clips from acam sessions and their `acam beamform` outputs.

An item is a clip of ``clip_frames`` consecutive video frames (12 = 1 s for the DualCamNet
teacher, 60 = 5 s for the students) and yields, aligned on the session's audio clock:

- ``mfcc``: (clip_frames, 12, 36, 48) MFCC acoustic images (time, coefficient, row, column);
- ``audio``: one microphone (index ``mic``, 0 as in the DualCam pipeline) over the same frames,
  resampled to 22,050 Hz (float32);
- ``video``: (clip_frames, H, W, 3) uint8 frames, only with ``video=True`` (they are large);
- ``label`` (class index), ``scenario``, ``subject``, ``session``, ``start`` (first frame),
  ``frames`` (the clip's length in frames).

Splits follow the DualCam code: 10-second blocks of every session, shuffled with a seed, 80/10/10
(train/validation/test); and cross-scenario splits (train on scenario A, test on B). Sessions of a
dataset made by ``acam dataset make`` take their split from its ``split.json``
(:func:`dataset_split`), so that every run on the dataset uses the same one.
Normalisation statistics come from the training split only (:func:`mfcc_stats`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

from ..constants import DUALCAM_FPS
from ..errors import AcamError
from ..io.acoustic import open_acoustic
from ..io.dataset import Split, assign_parts, find_split, read_split
from ..io.session import open_session
from .cache import cached_audio

STUDENT_RATE = 22050
FPS = int(DUALCAM_FPS)
"""Acoustic (and video) frames per second the models take: DualCamNet's temporal convolution
spans 12 frames = 1 s, as in the DualCam data."""


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


class Files:
    """Sessions and acoustic files, each opened and validated once (through the formats' own
    readers, :func:`~acoustic_camera.io.session.open_session` and
    :func:`~acoustic_camera.io.acoustic.open_acoustic`) and kept open; at most ``max_open``
    of each at a time (least recently used closed first). ``cache``: the folder where inputs
    computed from them are kept (:mod:`.cache`), or None."""

    WAVE_BYTES = 2 * 2**30  # resampled microphones kept in memory when there is no cache folder

    def __init__(self, max_open: int = 64, cache: Path | None = None):
        self.max_open = max_open
        self.cache = cache  # models.cache's root: computed inputs kept on disk (None: in memory only)
        self._sessions: OrderedDict = OrderedDict()
        self._acoustic: OrderedDict = OrderedDict()
        self._waves: OrderedDict = OrderedDict()  # (session, mic) -> resampled microphone (least recently used dropped)
        self._wave_bytes = 0

    def _get(self, cache, key, opener):
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        h = cache[key] = opener()
        while len(cache) > self.max_open:
            cache.popitem(last=False)[1].close()
        return h

    def session(self, path):
        return self._get(self._sessions, str(path), lambda: open_session(path))

    def acoustic(self, path, session_path=None):
        def opener():
            a = open_acoustic(path, self.session(session_path) if session_path is not None else None)
            if a.mfcc is None:
                a.close()
                raise AcamError(f"{path}: /mfcc: expected MFCC images (acam beamform --features mfcc,...), "
                                f"found only {', '.join(a.features)}")
            return a
        return self._get(self._acoustic, str(path), opener)

    def wave(self, session, mic: int) -> np.ndarray:
        """The session's microphone ``mic`` resampled whole to the students' rate: once per run
        (every dataset of the run shares it), and once per dataset with a cache folder."""
        key = (str(session), mic)
        if key in self._waves:
            self._waves.move_to_end(key)
            return self._waves[key]
        s = self.session(session)
        w = cached_audio(self.cache, session, mic, STUDENT_RATE,
                         lambda: resample_to(s.audio(0, s.n_samples, channel=mic), s.sample_freq))
        self._waves[key] = w
        if not isinstance(w, np.memmap):
            self._wave_bytes += w.nbytes
            while self._wave_bytes > self.WAVE_BYTES and len(self._waves) > 1:
                old = self._waves.popitem(last=False)[1]
                self._wave_bytes -= 0 if isinstance(old, np.memmap) else old.nbytes
        return w

    def close(self) -> None:
        for cache in (self._sessions, self._acoustic):
            while cache:
                cache.popitem()[1].close()


def _session_meta(s):
    if abs(s.video_fps - FPS) > 1e-6:
        raise AcamError(f"{s.path}: video_fps: expected {FPS} (the models take {FPS} acoustic frames per second, "
                        f"as DualCam records), found {s.video_fps:g}")
    md = s.metadata
    return str(md.get("label", "")).split(",")[0], str(md.get("scenario", "")), str(md.get("subject", "")), s.n_frames


def index_clips(pairs, clip_frames: int = FPS, hop_frames: int | None = None, block_seconds: float = 10.0,
                files: Files | None = None) -> list[Clip]:
    """Clips over (session, acoustic-file) pairs; clips never straddle a 10-second block, so a
    split by blocks never puts overlapping audio in two splits."""
    hop = hop_frames or clip_frames
    files = files or Files()
    clips = []
    for session, acoustic in pairs:
        label, scenario, subject, n = _session_meta(files.session(session))
        files.acoustic(acoustic, session)  # validates it and its frames against the session's
        per_block = max(int(round(block_seconds * FPS)), clip_frames)
        for b0 in range(0, n, per_block):
            for s in range(b0, min(n, b0 + per_block) - clip_frames + 1, hop):
                clips.append(Clip(str(session), str(acoustic), s, clip_frames, label, scenario, subject, b0 // per_block))
    return clips


def non_overlapping(clips: list[Clip], block_seconds: float = 10.0) -> list[Clip]:
    """The clips that start a whole number of clip lengths into their 10-s block: the ones that
    share no audio (a student's 5-s clips start every second, so 2 of a block's 6 qualify; a
    teacher's 1-s clips all do). Models are scored on these: overlapping clips are not
    independent trials, and scoring them cost a student run as much as its epochs did."""
    per_block = int(round(block_seconds * FPS))
    return [c for c in clips if (c.start - c.block * per_block) % c.frames == 0]


def session_blocks(pairs, block_seconds: float = 10.0, files: Files | None = None) -> dict[tuple[str, int], str]:
    """Every (session, block) unit of the sessions, whole block or not, and its scenario.

    Splits are made over these, not over the units that happen to hold clips: a 1-s teacher
    clip fits in a session's short last block where a 5-s student clip does not, and a split
    over clip units would then shuffle a teacher's and its student's sessions differently."""
    files = files or Files()
    per_block = int(round(block_seconds * FPS))
    out = {}
    for session, _ in pairs:
        _, scenario, _, n = _session_meta(files.session(session))
        for b in range(-(-n // per_block)):
            out[(str(session), b)] = scenario
    return out


def split_blocks(clips: list[Clip], seed: int = 42, fractions=(0.8, 0.1, 0.1), units=None) -> dict[str, list[Clip]]:
    """Train/validation/test by shuffled (session, block) units, as the DualCam lists were made;
    ``units``: the units to shuffle (default: those the clips hold; pass
    :func:`session_blocks` so that runs with other clip lengths split alike)."""
    part = assign_parts(units if units is not None else {(c.session, c.block) for c in clips}, seed, fractions)
    out = {"train": [], "validation": [], "test": []}
    for c in clips:
        out[part[(c.session, c.block)]].append(c)
    return out


def split_scenarios(clips: list[Clip], train: str, test: str, seed: int = 42, val_fraction: float = 0.1,
                    units: dict | None = None) -> dict:
    """Train (and validate) on scenario `train`, test on scenario `test`: all of it, or, when it
    is the training scenario, its held-out test split. ``units``: :func:`session_blocks`."""
    a = [c for c in clips if c.scenario == train]
    a_units = None if units is None else [u for u, scen in units.items() if scen == train]
    if test == train:
        return split_blocks(a, seed, (1 - 2 * val_fraction, val_fraction, val_fraction), a_units)
    tv = split_blocks(a, seed, (1 - val_fraction, val_fraction, 0.0), a_units)
    return {"train": tv["train"], "validation": tv["validation"], "test": [c for c in clips if c.scenario == test]}


def session_key(path) -> str:
    """How splits and checkpoints name a session: its file name (directories may move; a
    dataset's file names are unique)."""
    return Path(path).name


def dataset_split(clips: list[Clip], pairs, split_path=None, train: str | None = None, test: str | None = None,
                  seed: int = 42, files: Files | None = None) -> tuple[dict, Split | None]:
    """The run's train / validation / test clips, and the split file they came from.

    With a split file (``split_path``, or the ``split.json`` of the dataset the sessions belong
    to) every clip takes its block's part from it; cross-scenario (``train`` A, ``test`` B):
    A's train and validation blocks, and A's test blocks when B is A, else all of B. Sessions in
    no dataset are split here as the DualCam lists were (:func:`split_blocks`,
    :func:`split_scenarios`), with None for the file."""
    path = Path(split_path) if split_path else find_split([s for s, _ in pairs])
    if path is None:
        units = session_blocks(pairs, files=files)
        if train:
            return split_scenarios(clips, train, test, seed=seed, units=units), None
        return split_blocks(clips, seed=42, units=units), None  # the DualCam lists' seed, whatever the run's
    sp = read_split(path)
    out = {"train": [], "validation": [], "test": []}
    for c in clips:
        part = sp.part.get((session_key(c.session), c.block))
        if part is None:
            raise AcamError(f"{sp.path}: units: expected every block of the run's sessions, found no {session_key(c.session)} "
                            f"block {c.block} (a session from outside this dataset?)")
        if not train:
            out[part].append(c)
        elif c.scenario == train:
            if part != "test" or test == train:
                out[part].append(c)
        elif c.scenario == test:
            out["test"].append(c)
    return out, sp


def class_names(clips: list[Clip]) -> list[str]:
    return sorted({c.label for c in clips})


def mfcc_stats(clips: list[Clip], files: Files | None = None) -> dict:
    """Per-coefficient mean and std of the MFCC images over the given (training) clips."""
    files = files or Files()
    s1 = s2 = 0.0
    n = 0
    for c in clips:
        m = files.acoustic(c.acoustic).mfcc[c.start:c.start + c.frames].astype(np.float64)  # (T, 36, 48, C)
        s1 = s1 + m.sum(axis=(0, 1, 2))
        s2 = s2 + (m**2).sum(axis=(0, 1, 2))
        n += m.shape[0] * m.shape[1] * m.shape[2]
    if n == 0:
        raise AcamError("no training clips: the sessions hold no whole clip in the training split (too short, or too few)")
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 1e-12))
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
    :func:`mfcc_stats` on the training split normalises the MFCC images.

    A clip's audio is cut from its session's microphone resampled whole (:meth:`Files.wave`):
    reading one channel of the 128-channel chunks and resampling it again for every clip of every
    epoch cost more than the student's own step."""

    def __init__(self, clips: list[Clip], classes: list[str], stats: dict | None = None, mic: int = 0,
                 audio: bool = True, video: bool = False, mfcc: bool = True, files: Files | None = None):
        self.clips, self.classes, self.stats, self.mic = clips, list(classes), stats, mic
        self.audio, self.video, self.mfcc = audio, video, mfcc
        self.files = files or Files()
        self._index = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        c = self.clips[i]
        item = {"label": self._index.get(c.label, -1), "scenario": c.scenario, "subject": c.subject,
                "session": c.session, "acoustic": c.acoustic, "start": c.start, "frames": c.frames}
        if self.mfcc:
            m = self.files.acoustic(c.acoustic).mfcc[c.start:c.start + c.frames].astype(np.float32)  # (T, 36, 48, 12)
            if self.stats is not None:
                m = (m - self.stats["mean"]) / self.stats["std"]
            item["mfcc"] = np.ascontiguousarray(m.transpose(0, 3, 1, 2))
        if self.audio or self.video:
            s = self.files.session(c.session)
            fsi = s.frame_sample_index
            end_frame = c.start + c.frames
            a = int(fsi[c.start])
            b = int(fsi[end_frame]) if end_frame < s.n_frames else s.n_samples
            if self.audio:
                item["audio"] = cut(self.files.wave(c.session, self.mic), a, b, s.sample_freq)
            if self.video:
                item["video"] = s.frames(c.start, end_frame)
        return item


def cut(wave: np.ndarray, a: int, b: int, rate: float, target: int = STUDENT_RATE) -> np.ndarray:
    """Samples [a, b) at ``rate`` of a signal resampled whole to ``target``: as many samples as
    :func:`resample_to` makes of them (zeros past the end), as a new float32 array."""
    r = Fraction(target) / Fraction(rate).limit_denominator(1000)
    i0, n = int(round(a * r)), int(math.ceil((b - a) * r))
    out = np.zeros(n, np.float32)
    part = wave[i0:i0 + n]
    out[:len(part)] = part
    return out
