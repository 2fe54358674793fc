"""The hand-off between a live source and the live imager: the last seconds of audio, the newest
video frames, and the wall-clock time at which each audio block arrived.

A source (the PortAudio capture's writer thread, or the simulated DualCam's player) pushes; the
imager reads the newest data. Pushing never waits for the imager: the lock guards copies of one
block only, and a reader that falls behind finds old samples overwritten (it asks for the newest
frame anyway). Sample indices are absolute, on the capture's own clock, so a frame's window and a
recording's samples are the same numbers.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from ...io.session import MAX_ABS_SAMPLE


class LiveFeed:
    """A ring of the last ``seconds`` of audio and the last video frames, with arrival times.

    ``push_audio(start, block)`` appends samples ``[start, start + len)`` (a jump in ``start``
    is a gap: zero-filled); ``push_frame(sample_index, rgb)`` adds a video frame stamped on the
    audio clock. ``end`` is one past the newest sample; ``wall_of(n)`` the wall-clock time (s,
    ``time.time()``) at which sample n arrived."""

    def __init__(self, sample_freq: float, n_channels: int, seconds: float = 4.0, max_frames: int = 64):
        self.sample_freq = float(sample_freq)
        self.n_channels = int(n_channels)
        self._cap = int(seconds * sample_freq)
        self._buf = np.zeros((self._cap, self.n_channels), np.float32)
        self._end = 0
        self._arrivals: collections.deque = collections.deque(maxlen=4096)  # (end sample, wall time)
        self._frames: collections.deque = collections.deque(maxlen=max_frames)  # (sample index, rgb)
        self._cond = threading.Condition()
        self.closed: str | None = None  # why the source ended, once it has
        self.nonfinite = 0  # samples that arrived NaN, inf or absurd, and went into the ring as 0

    @property
    def end(self) -> int:
        return self._end

    def push_audio(self, start: int, block: np.ndarray, wall: float | None = None) -> None:
        wall = time.time() if wall is None else wall
        block = np.asarray(block, np.float32)
        if block.size and not (-MAX_ABS_SAMPLE <= block.min() and block.max() <= MAX_ABS_SAMPLE):
            # as a session's reader does: a bad converter's NaN would blank every picture
            ok = np.abs(block) <= MAX_ABS_SAMPLE
            self.nonfinite += int(block.size - np.count_nonzero(ok))
            block = np.where(ok, block, np.float32(0))
        with self._cond:
            if start > self._end:  # lost audio: silence in its place, time kept
                self._write(np.zeros((min(start - self._end, self._cap), self.n_channels), np.float32), start)
            self._write(block[-self._cap:], start + len(block))
            self._arrivals.append((self._end, wall))
            self._cond.notify_all()

    def _write(self, block: np.ndarray, end: int) -> None:
        """``block`` as the samples up to ``end``."""
        n = len(block)
        i = (end - n) % self._cap
        k = min(n, self._cap - i)
        self._buf[i:i + k] = block[:k]
        self._buf[: n - k] = block[k:]
        self._end = max(self._end, end)

    def push_frame(self, sample_index: int, rgb: np.ndarray) -> None:
        with self._cond:
            self._frames.append((int(sample_index), rgb))
            self._cond.notify_all()

    def close(self, reason: str) -> None:
        with self._cond:
            self.closed = reason
            self._cond.notify_all()

    def read(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) of every channel; zeros where they are older than the ring or not yet here."""
        out = np.zeros((max(b - a, 0), self.n_channels), np.float32)
        with self._cond:
            lo, hi = max(a, self._end - self._cap, 0), min(b, self._end)
            if hi > lo:  # one piece of the ring, wrapped at most once
                i = lo % self._cap
                k = min(hi - lo, self._cap - i)
                out[lo - a:lo - a + k] = self._buf[i:i + k]
                out[lo - a + k:hi - a] = self._buf[: hi - lo - k]
        return out

    def frames(self) -> list[tuple[int, np.ndarray]]:
        """The video frames held, oldest first: (sample index, RGB)."""
        with self._cond:
            return list(self._frames)

    def wall_of(self, sample: int) -> float:
        """When sample ``sample`` arrived (wall clock, s): the arrival of the block holding it,
        less the time the rest of that block took at the sample rate."""
        with self._cond:
            found = None
            for end, wall in reversed(self._arrivals):
                if end <= sample:
                    break
                found = (end, wall)
        if found is None:  # not here yet (or no arrivals): as if it arrived now
            return time.time()
        end, wall = found
        return wall - (end - 1 - sample) / self.sample_freq

    def wait(self, after_end: int, timeout: float) -> None:
        """Until audio past ``after_end`` arrives, the source closes, or ``timeout`` s pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._end > after_end or self.closed is not None, timeout)
