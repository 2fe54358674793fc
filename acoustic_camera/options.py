"""The kinds of value a user gives acam (a number within limits, a count, a band, a grid, a
point), each checked by one parser, and the limits themselves: the one place they are set.

Every command-line option and every settings message of the live view goes through these
parsers (the CLI wraps them as click types in :mod:`.cli.common`), so a value is refused in one
line naming the option, what was expected and what was found, before any work or allocation.
A parser accepts the text a user typed or a Python number alike.

Why the limits are where they are (each is far outside any sensible use, and inside what the
machine can hold or the physics can mean):

- rates and durations: audio 1 kHz..384 kHz (MEMS and studio converters); video 0.5..240 fps and
  below the audio rate (each frame needs its own sample); a capture at most 24 h, a simulation
  at most 1 h (it is computed in memory);
- frames: ``--nfft`` 16..65536 samples (below 16 a frame holds no spectrum worth the name);
  kernel batches 1..1024 frames; CSMs of 1..1200 frames (100 s at 12 fps);
- grids: 1..1024 cells a side and at most :data:`MAX_LOOK_POINTS` look directions;
- short-time methods: CLEAN-SC 1..10000 steps (at most one per microphone does anything),
  functional order 1..1000, Capon's loading 0..1e6 (exclusive of 0), loop gain 0..1;
- a picture's dynamic range 0..200 dB (exclusive of 0; 200 dB spans every audible level);
- lengths and positions within 1 km of the array.

Memory is checked where its size is known, by :func:`check_memory`, before allocating.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import AcamError

MAX_DIGITS = 30
"""Longest integer or number text accepted (a 5000-digit integer is refused, not parsed)."""


def shown(value) -> str:
    """A user's value as an error message shows it: its repr, cut at 40 characters."""
    return _shown(value)


def _shown(value) -> str:
    try:
        s = " ".join(repr(value).split())  # one line, whatever it is (a NumPy array's repr has several)
    except ValueError:  # an integer past Python's 4300-digit limit of int -> str
        return (f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits" if isinstance(value, int)
                else f"a {type(value).__name__} holding an integer too long to show")
    return s if len(s) <= 60 else s[:57] + "..."


def huge_int(v) -> bool:
    """An integer too long to be any quantity acam takes (and too long to show in full)."""
    return isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 100


def _number(value, name: str, expected: str) -> float:
    if isinstance(value, bool):
        raise AcamError(f"{name}: expected {expected}, found {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_DIGITS:
            raise AcamError(f"{name}: expected {expected}, found {_shown(value)} ({len(text)} characters)")
        try:
            return float(text)
        except ValueError:
            raise AcamError(f"{name}: expected {expected}, found {_shown(value)}") from None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise AcamError(f"{name}: expected {expected}, found {_shown(value)}") from None


@dataclass(frozen=True)
class Real:
    """A finite number in [lo, hi] (``lo_open``/``hi_open``: the bound itself excluded)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""

    def describe(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}{u}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}{u}")
        return "a finite number" + (" " + " and ".join(parts) if parts else "")

    def __call__(self, value, name: str) -> float:
        x = _number(value, name, self.describe())
        ok = math.isfinite(x)
        if ok and self.lo is not None:
            ok = x > self.lo if self.lo_open else x >= self.lo
        if ok and self.hi is not None:
            ok = x < self.hi if self.hi_open else x <= self.hi
        if not ok:
            raise AcamError(f"{name}: expected {self.describe()}, found {_shown(value)}")
        return x


@dataclass(frozen=True)
class Count:
    """A whole number in [lo, hi]."""

    lo: int = 0
    hi: int = 2**31 - 1
    unit: str = ""

    def describe(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        return f"a whole number from {self.lo} to {self.hi}{u}"

    def __call__(self, value, name: str) -> int:
        given = value
        if isinstance(value, str):  # typed text: an integer literal, not 1e3 or 12.0
            text = value.strip()
            if len(text) > MAX_DIGITS or not text.lstrip("+-").isdigit():
                raise AcamError(f"{name}: expected {self.describe()}, found {_shown(given)}")
            value = int(text)
        x = _number(value, name, self.describe())
        if not (math.isfinite(x) and x == int(x) and self.lo <= x <= self.hi):
            raise AcamError(f"{name}: expected {self.describe()}, found {_shown(given)}")
        return int(x)


@dataclass(frozen=True)
class Choice:
    """One of a fixed list of names."""

    names: tuple[str, ...]

    def __call__(self, value, name: str) -> str:
        if not isinstance(value, str) or value not in self.names:
            raise AcamError(f"{name}: expected one of {', '.join(self.names)}, found {_shown(value)}")
        return value


# -- the limits (see the module's docstring for why) -------------------------------------------
MAX_LOOK_POINTS = 1 << 18
"""Most look directions in one grid (512 x 512)."""
MAX_METRES = 1000.0

SAMPLE_RATE = Real(1000.0, 384000.0, unit="Hz")
FPS = Real(0.5, 240.0, unit="fps")
CAPTURE_SECONDS = Real(0.0, 86400.0, lo_open=True, unit="s")
SIM_SECONDS = Real(0.0, 3600.0, lo_open=True, unit="s")
NFFT = Count(16, 65536, "samples")
BATCH = Count(1, 1024, "frames")
CSM_FRAMES = Count(1, 1200, "frames")
CLEAN_STEPS = Count(1, 10000)
CLEAN_GAIN = Real(0.0, 1.0, lo_open=True)
FUNCTIONAL_ORDER = Real(1.0, 1000.0)
LOADING = Real(0.0, 1e6, lo_open=True)
RANGE_DB = Real(0.0, 200.0, lo_open=True, unit="dB")
LIVE_RANGE_DB = Real(1.0, 60.0, unit="dB")  # the live view's slider
LIVE_CSM_FRAMES = Count(1, 48, "frames")  # 4 s at 12 fps: the live view's latency budget
PREROLL_SECONDS = Real(0.0, 3600.0, unit="s")
METRES = Real(0.0, MAX_METRES, lo_open=True, unit="m")
COORDINATE = Real(-MAX_METRES, MAX_METRES, unit="m")
SEED = Count(0, 2**32 - 1)
GRID_SIDE = Count(1, 1024, "cells")
FREQUENCY = Real(0.0, SAMPLE_RATE.hi / 2, unit="Hz")


def band(value, name: str = "--band") -> tuple[float, float | None]:
    """'LO:HI' in Hz (HI empty: up to the top bin), or a (lo, hi) pair -> (lo, hi|None), with
    0 <= LO < HI, both finite and below the highest audio rate's Nyquist frequency."""
    expected = f"LO:HI in Hz with 0 <= LO < HI <= {FREQUENCY.hi:g} (HI may be empty)"
    if isinstance(value, str):
        lo_t, sep, hi_t = value.partition(":")
        if not sep:
            raise AcamError(f"{name}: expected {expected}, found {_shown(value)}")
        lo_t, hi_t = lo_t.strip() or "0", hi_t.strip()
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        lo_t, hi_t = value[0], value[1]
    else:
        raise AcamError(f"{name}: expected {expected}, found {_shown(value)}")
    try:
        lo = FREQUENCY(lo_t, name)
        hi = None if hi_t in ("", None) else FREQUENCY(hi_t, name)
    except AcamError:
        raise AcamError(f"{name}: expected {expected}, found {_shown(value)}") from None
    if hi is not None and hi <= lo:
        raise AcamError(f"{name}: expected {expected}, found {_shown(value)}")
    return lo, hi


def grid(value, name: str = "--grid") -> tuple[int, int]:
    """'ROWSxCOLS' or a (rows, cols) pair, each 1..1024 and at most :data:`MAX_LOOK_POINTS` in all."""
    expected = f"ROWSxCOLS, e.g. 36x48, each {GRID_SIDE.lo}..{GRID_SIDE.hi} and at most {MAX_LOOK_POINTS} cells"
    parts = value.lower().split("x") if isinstance(value, str) else value
    try:
        if len(parts) != 2:
            raise AcamError("")
        r, c = GRID_SIDE(parts[0], name), GRID_SIDE(parts[1], name)
    except (AcamError, TypeError):
        raise AcamError(f"{name}: expected {expected}, found {_shown(value)}") from None
    if r * c > MAX_LOOK_POINTS:
        raise AcamError(f"{name}: expected {expected}, found {r}x{c} ({r * c} cells)")
    return r, c


def xyz(value, name: str) -> tuple[float, float, float]:
    """'X,Y,Z' in metres (or three numbers), each within 1 km of the array."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        if len(parts) != 3:
            raise AcamError("")
        return tuple(COORDINATE(p, name) for p in parts)
    except (AcamError, TypeError):
        raise AcamError(f"{name}: expected X,Y,Z in metres, each {COORDINATE.describe()}, found {_shown(value)}") from None


def available_memory() -> int:
    """Bytes of memory available to allocate now (Linux: MemAvailable; elsewhere physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_memory(nbytes: float, what: str, hint: str = "") -> None:
    """Refuse, in one line, an allocation of ``nbytes`` larger than the memory available now
    (say what it was for and which option sizes it)."""
    avail = available_memory()
    if nbytes > avail:
        raise AcamError(f"{what}: needs {nbytes / 2**30:.1f} GB of memory, {avail / 2**30:.1f} GB available"
                        + (f" ({hint})" if hint else ""))


# -- limits of the other commands' options ------------------------------------------------------
FRAME = Count(0, 10**9)
CHANNELS = Count(1, 4096, "channels")
BLOCKSIZE = Count(16, 65536, "samples")
RING_SECONDS = Real(0.1, 600.0, unit="s")
SIDE_METRES = Real(0.0, 10.0, lo_open=True, unit="m")  # a chessboard square, a marker
EVERY = Count(1, 100000)
MARKER_ID = Count(0, 49)  # DICT_4X4_50
SUBJECTS = Count(1, 1000)
WORKERS = Count(1, 256)
EPOCHS = Count(1, 100000)
CLIPS_PER_BATCH = Count(1, 65536)
CROPS = Count(0, 1000)
LEARNING_RATE = Real(0.0, 10.0, lo_open=True)
WEIGHT = Real(0.0, 1e6)  # a loss term's weight, weight decay
FRACTION = Real(0.0, 1.0)
TEMPERATURE = Real(0.0, 1000.0, lo_open=True)
IMAGE_SIDE = Count(32, 1024, "px")
PER_SECOND = Count(1, 240)
PIXELS = Real(0.0, 1e5, lo_open=True, unit="px")
SEEDS = Count(1, 1000)
VIDEO_OFFSET = Real(-86400.0, 86400.0, unit="s")  # a video started up to a day before or after its audio
HFOV_DEG = Real(1.0, 179.0, unit="degrees")  # a camera's horizontal field of view
