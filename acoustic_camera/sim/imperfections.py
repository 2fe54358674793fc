"""A non-ideal array for the simulator: the microphones a real board has, not the nominal ones.

The session still stores the nominal geometry (what the user believes); the simulation uses
these errors, so calibration (:mod:`acoustic_camera.calibration`) has something real to find:

- per-microphone gain (dB) and delay (s) of the acoustic path: the capsule's sensitivity and
  phase, and position errors (m) of the capsules on the board;
- wiring and electronics faults, applied to the recorded channels: ``dead`` (reads zero),
  ``stuck`` (a constant DC value), ``clipping`` (saturates at ``clip_pa``), ``noisy`` (excess
  self-noise of ``noisy_pa`` RMS), ``inverted`` (polarity), ``swapped`` (pairs of channels
  exchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AcamError

@dataclass(frozen=True)
class ArrayErrors:
    gain_db: tuple[float, ...] = ()
    delay_s: tuple[float, ...] = ()
    position_m: tuple[tuple[float, float, float], ...] = ()
    dead: tuple[int, ...] = ()
    stuck: tuple[int, ...] = ()
    clipping: tuple[int, ...] = ()
    noisy: tuple[int, ...] = ()
    inverted: tuple[int, ...] = ()
    swapped: tuple[tuple[int, int], ...] = ()
    stuck_pa: float = 0.3
    clip_pa: float = 0.02
    noisy_pa: float = 0.05

    @classmethod
    def random(cls, n_mics: int, seed: int, gain_db: float = 3.0, delay_us: float = 50.0, position_mm: float = 2.0,
               **faults) -> "ArrayErrors":
        """Uniform errors within +-gain_db, +-delay_us, +-position_mm (each coordinate in the
        board's plane), plus the given faults (e.g. ``dead=(5,)``, ``swapped=((60, 100),)``)."""
        rng = np.random.default_rng(seed)
        pos = np.zeros((n_mics, 3))
        pos[:, :2] = rng.uniform(-position_mm, position_mm, (n_mics, 2)) * 1e-3
        return cls(gain_db=tuple(rng.uniform(-gain_db, gain_db, n_mics)),
                   delay_s=tuple(rng.uniform(-delay_us, delay_us, n_mics) * 1e-6),
                   position_m=tuple(map(tuple, pos)), **faults)

    def check(self, n_mics: int) -> None:
        for name in ("gain_db", "delay_s", "position_m"):
            v = getattr(self, name)
            if v and len(v) != n_mics:
                raise AcamError(f"array errors {name}: expected {n_mics} values (one per microphone), found {len(v)}")
        used = [m for f in ("dead", "stuck", "clipping", "noisy", "inverted") for m in getattr(self, f)]
        used += [m for pair in self.swapped for m in pair]
        bad = [m for m in used if not 0 <= m < n_mics]
        if bad:
            raise AcamError(f"array errors: microphone {bad[0]} does not exist (0..{n_mics - 1})")

    def gains(self, n_mics: int) -> np.ndarray:
        return 10 ** (np.asarray(self.gain_db, float) / 20) if self.gain_db else np.ones(n_mics)

    def delays(self, n_mics: int) -> np.ndarray:
        return np.asarray(self.delay_s, float) if self.delay_s else np.zeros(n_mics)

    def positions(self, nominal: np.ndarray) -> np.ndarray:
        """Where the capsules really are, in the array frame."""
        return nominal + (np.asarray(self.position_m, float) if self.position_m else 0.0)

    def wire(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The recorded channels (M, n) from the capsules' signals (M, n): the faults, in the
        order the hardware would apply them (capsule, amplifier, converter, cabling)."""
        y = y.copy()
        for m in self.noisy:
            y[m] += rng.standard_normal(y.shape[1]).astype(y.dtype) * np.float32(self.noisy_pa)
        for m in self.inverted:
            y[m] = -y[m]
        for m in self.clipping:
            np.clip(y[m], -self.clip_pa, self.clip_pa, out=y[m])
        for m in self.dead:
            y[m] = 0.0
        for m in self.stuck:
            y[m] = self.stuck_pa
        for a, b in self.swapped:
            y[[a, b]] = y[[b, a]]
        return y
