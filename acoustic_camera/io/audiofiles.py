"""Multichannel recordings written outside acam, read as one stream of float32 blocks.

Formats: everything libsndfile reads (WAV, including WAVE_FORMAT_EXTENSIBLE, 16/24/32-bit
integer and 32/64-bit float; RF64 and W64 for files over 4 GB; FLAC; CAF; AIFF), through
``soundfile``; and Acoular's HDF5 time data (``/time_data`` (samples, channels) with the
attribute ``sample_freq``, as Acoular's ``WriteH5``, its measurement apps and acam's own
sessions write it), through acam's HDF5 reader (:mod:`.hdf5`).

Several files given in order are one recording split by the recorder (at 2 or 4 GB): they are
joined sample-exact, and must share their rate and channel count. Integer samples are scaled
to [-1, 1) (full scale), as libsndfile does; float samples and Acoular's are taken as they are.
Every failure is one line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import AcamError, FileFormatError
from .hdf5 import dataset, metadata_errors, open_h5, read

BLOCK = 1 << 16
"""Samples per block read (a 64-channel float32 block is 16 MB)."""


@dataclass(frozen=True)
class AudioPart:
    """One file of a recording."""

    path: Path
    kind: str  # "sndfile" or "acoular"
    sample_freq: float
    n_channels: int
    n_samples: int
    encoding: str  # e.g. "WAV PCM_24", "FLAC PCM_16", "Acoular HDF5 float32"


def probe(path) -> AudioPart:
    """What one audio file holds, or one line saying why it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise AcamError(f"{p}: no such file (expected a recording: WAV, FLAC, RF64, W64, CAF or Acoular HDF5)")
    if p.is_dir():
        raise AcamError(f"{p}: is a directory, expected a recording file")
    with open(p, "rb") as f:
        magic = f.read(8)
    if magic.startswith(b"\x89HDF\r\n\x1a\n"):
        return _probe_h5(p)
    import soundfile as sf

    try:
        info = sf.info(str(p))
    except (RuntimeError, sf.LibsndfileError, ValueError, OSError) as exc:
        raise AcamError(f"{p}: expected a recording libsndfile reads (WAV, FLAC, RF64, W64, CAF, AIFF), found "
                        f"{_why(exc)}") from None
    if info.frames <= 0 or info.channels < 1 or not info.samplerate > 0:
        raise AcamError(f"{p}: expected audio samples, found {info.frames} frames of {info.channels} channel(s)")
    return AudioPart(p, "sndfile", float(info.samplerate), int(info.channels), int(info.frames),
                     f"{info.format} {info.subtype}")


def _why(exc) -> str:
    msg = " ".join(str(exc).split())
    return msg[:120] if msg else type(exc).__name__


def _probe_h5(p: Path) -> AudioPart:
    f, _ = open_h5(p, FileFormatError, "Acoular HDF5 time data (/time_data with sample_freq)")
    try:
        with metadata_errors(p, FileFormatError):
            td = dataset(f, p, FileFormatError, "time_data", 2, "fiu")
            rate = td.attrs.get("sample_freq")
            try:
                rate = float(rate)
            except (TypeError, ValueError):
                raise FileFormatError(p, "/time_data attribute sample_freq", "the sample rate in Hz", repr(rate)[:40]) from None
            n, c = td.shape
            return AudioPart(p, "acoular", rate, int(c), int(n), f"Acoular HDF5 {td.dtype}")
    finally:
        f.close()


@dataclass(frozen=True)
class Recording:
    """Files of one recording, joined: ``parts[i]`` starts at sample ``starts[i]``."""

    parts: tuple[AudioPart, ...]
    starts: tuple[int, ...]

    @property
    def sample_freq(self) -> float:
        return self.parts[0].sample_freq

    @property
    def n_channels(self) -> int:
        return self.parts[0].n_channels

    @property
    def n_samples(self) -> int:
        return self.starts[-1] + self.parts[-1].n_samples

    def blocks(self, size: int = BLOCK) -> Iterator[tuple[int, np.ndarray]]:
        """``(first sample, block)``: float32 (n, channels) blocks of at most ``size`` samples,
        in order, across the files' boundaries."""
        for part, start in zip(self.parts, self.starts):
            if part.kind == "acoular":
                yield from _h5_blocks(part, start, size)
            else:
                yield from _sf_blocks(part, start, size)


def _sf_blocks(part: AudioPart, start: int, size: int):
    import soundfile as sf

    try:
        with sf.SoundFile(str(part.path)) as f:
            at = 0
            while at < part.n_samples:
                x = f.read(min(size, part.n_samples - at), dtype="float32", always_2d=True)
                if len(x) == 0:
                    raise AcamError(f"{part.path}: expected {part.n_samples} samples as its header says, found {at} "
                                    "(the file is cut short)")
                yield start + at, x
                at += len(x)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AcamError(f"{part.path}: the audio cannot be read past its header ({_why(exc)})") from None


def _h5_blocks(part: AudioPart, start: int, size: int):
    f, _ = open_h5(part.path, FileFormatError, "Acoular HDF5 time data")
    try:
        td = f["time_data"]
        for a in range(0, part.n_samples, size):
            x = read(td, np.s_[a:a + size], part.path, FileFormatError, f"/time_data rows {a}..")
            yield start + a, np.asarray(x, dtype=np.float32)
    finally:
        f.close()


def open_recording(paths) -> Recording:
    """The files ``paths`` (in order) as one recording; one line if they cannot be joined."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise AcamError("expected at least one recording file")
    parts = [probe(p) for p in paths]
    first = parts[0]
    starts, at = [], 0
    for p in parts:
        if p.sample_freq != first.sample_freq:
            raise AcamError(f"{p.path}: expected {first.sample_freq:g} Hz as {first.path.name} (the files are joined "
                            f"into one recording), found {p.sample_freq:g} Hz")
        if p.n_channels != first.n_channels:
            raise AcamError(f"{p.path}: expected {first.n_channels} channels as {first.path.name} (the files are joined "
                            f"into one recording), found {p.n_channels}")
        starts.append(at)
        at += p.n_samples
    return Recording(tuple(parts), tuple(starts))


def parse_channels(text: str | None, n_file: int, n_mics: int, name: str = "--channels") -> tuple[int, ...]:
    """Which file channel feeds each microphone: ``None`` (channel m to microphone m; the file
    must have exactly the geometry's count), '0-15', '3,1,2,0', '0-7,16-23'. One line naming both
    counts when they do not match."""
    if text is None:
        if n_file != n_mics:
            raise AcamError(f"{name}: the recording has {n_file} channels and the geometry {n_mics} microphones: "
                            f"pick {n_mics} of them, e.g. {name} 0-{n_mics - 1}")
        return tuple(range(n_mics))
    chans = []
    for item in text.split(","):
        item = item.strip()
        lo, dash, hi = item.partition("-")
        try:
            a = int(lo)
            b = int(hi) if dash else a
        except ValueError:
            raise AcamError(f"{name}: expected channel numbers and ranges such as 0-15 or 3,1,2, found {text[:60]!r}") from None
        if not (0 <= a < n_file and 0 <= b < n_file):
            raise AcamError(f"{name}: expected channels 0..{n_file - 1} (the recording has {n_file}), found {item!r}")
        step = 1 if b >= a else -1
        chans.extend(range(a, b + step, step))
        if len(chans) > 4096:
            break
    if len(chans) != n_mics:
        raise AcamError(f"{name}: expected {n_mics} channels, one per microphone of the geometry, found {len(chans)} "
                        f"({text[:60]})")
    if len(set(chans)) != len(chans):
        raise AcamError(f"{name}: expected each channel once, found {text[:60]!r} naming one twice")
    return tuple(chans)


SENSITIVITY_FORMS = "-26dBFS (full scale at 94 dB SPL), 12mV/Pa or 0.012V/Pa (samples in volts), 1/Pa (units per pascal)"


def parse_sensitivity(text: str, n_mics: int, name: str = "--sensitivity") -> tuple[np.ndarray, str]:
    """Sample units per pascal for each microphone, from one value or one per microphone
    (comma-separated), each in one of :data:`SENSITIVITY_FORMS`; and a description to store.

    A MEMS datasheet's "-26 dBFS" means a 94 dB SPL tone (1 Pa RMS) reads -26 dB re full scale:
    10^(-26/20) = 0.0501 full-scale units per pascal. A measurement microphone's "12 mV/Pa"
    applies to samples in volts (a DAQ's HDF5): 0.012 volts per pascal."""
    from .. import options

    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) not in (1, n_mics):
        raise AcamError(f"{name}: expected one sensitivity or {n_mics} (one per microphone), found {len(items)}")
    out = []
    for t in items:
        low = t.lower().replace(" ", "")
        for suffix, scale in (("dbfs", None), ("mv/pa", 1e-3), ("v/pa", 1.0), ("/pa", 1.0)):
            if low.endswith(suffix):
                value = low[: -len(suffix)]
                break
        else:
            raise AcamError(f"{name}: expected a sensitivity such as {SENSITIVITY_FORMS}, found {t[:40]!r}")
        if scale is None:
            db = options.Real(-200.0, 60.0, unit="dBFS")(value, name)
            out.append(10 ** (db / 20))
        else:
            out.append(options.Real(1e-9, 1e9, unit="per Pa")(value, name) * scale)
    s = np.asarray(out * (n_mics if len(out) == 1 else 1), dtype=np.float64)
    return s, f"{text[:200]} ({s.min():.4g}-{s.max():.4g} units per Pa)"
