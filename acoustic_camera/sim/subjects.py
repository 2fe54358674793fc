"""Simulated people: a subject is a seeded set of traits that carries across all of that
subject's sessions, so that a model tested on an unseen subject meets a new voice, hand and
gait, not just a new random seed.

Per subject (drawn from ``subject`` alone):

- **sound**: a generator for what stays the same for one person in each class (the pitch of
  the voice and the whistle, the hands' clap resonances, the tempo of knocking, hammering or
  typing, the pen they click...): :func:`~acoustic_camera.sim.sounds.make_sound`'s ``traits``;
- **loudness**: a gain, normal with 2.5 dB spread, on every class's typical level;
- **place and gait**: where they usually stand (depth 2.3-4.5 m, across the middle 30-70 % of
  the picture), the height of their hands (+-0.1 m), how far they stray from there and how fast
  they walk (0.8-1.5 m/s);
- **appearance**: the colours of their clothes and skin in the video.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Subject:
    index: int
    loudness_db: float
    depth_m: float  # where they usually stand, metres in front of the array
    across: float  # ... and where across the picture, as a fraction of its width
    hands_m: float  # array-frame y (down) of their hands
    stray_m: float  # how far from their place they walk
    speed_m_s: float
    clothes: tuple[int, int, int]
    skin: tuple[int, int, int]

    @classmethod
    def make(cls, index: int) -> "Subject":
        r = np.random.default_rng([int(index), 0x5B])
        clothes = tuple(int(v) for v in r.integers(25, 110, 3))  # dark enough for the class colours to stand out
        skin = tuple(int(v) for v in (np.array([200, 160, 130]) * r.uniform(0.45, 1.05)).clip(0, 255))
        return cls(index=int(index), loudness_db=float(r.normal(0, 2.5)), depth_m=float(r.uniform(2.3, 4.5)),
                   across=float(r.uniform(0.3, 0.7)), hands_m=float(r.uniform(-0.1, 0.1)),
                   stray_m=float(r.uniform(0.4, 1.0)), speed_m_s=float(r.uniform(0.8, 1.5)), clothes=clothes, skin=skin)

    def sound_traits(self, label: str) -> np.random.Generator:
        """The generator of this subject's traits for one sound class."""
        return np.random.default_rng([self.index, zlib.crc32(label.encode())])

    @property
    def gain(self) -> float:
        return float(10 ** (self.loudness_db / 20))
