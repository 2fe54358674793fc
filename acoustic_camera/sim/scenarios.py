"""The three simulated DualCam recording places, after the DualCam action dataset.

Each scenario is a pyroomacoustics shoe-box room plus the background sound of the place:

- ``anechoic``: an anechoic chamber; direct sound only.
- ``indoor``: a reverberant open-space office (12 x 9 x 3 m, RT60 0.7 s). The image-source
  model is capped at order 3 (``ism_order``; order 84 would be needed for the full decay, which
  costs ~10^5 images per position): the early reflections come from the image sources, and the
  late reverberation from a diffuse-field tail (noise plane waves from 48 directions) decaying
  at the room's RT60, its level matched to a high-order image-source response at the crossover
  time. Ventilation noise reaches the array through the same reverberant field.
- ``outdoor``: a terrace: a reflecting paved floor (energy absorption 0.05), no other
  boundaries (pyroomacoustics walls with absorption 1), diffuse background noise from many
  distant sources (30-200 m, air absorption from pyroomacoustics' ISO 9613-1 coefficients),
  and gusty wind noise at low frequencies, incoherent between microphones.

Every scenario adds independent sensor noise to each channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import sys

import numpy as np

from ..catalog import SCENARIOS
from ..errors import AcamError


def _import_pyroomacoustics():
    # pyroomacoustics imports sounddevice for its playback helpers whenever it is installed,
    # which would load PortAudio into every simulation; hide it for that import only.
    hidden = "sounddevice" not in sys.modules
    if hidden:
        sys.modules["sounddevice"] = None  # makes `import sounddevice` raise ImportError
    try:
        import pyroomacoustics
    finally:
        if hidden and sys.modules.get("sounddevice", 0) is None:
            del sys.modules["sounddevice"]
    return pyroomacoustics


pra = _import_pyroomacoustics()

#: Array frame (x right, y down, z forward) -> room frame (X, Y, Z up): columns are the images
#: of the array axes. The array looks along +Y of the room.
ARRAY_TO_ROOM = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class Scenario:
    """Room, array placement and background sound of one recording place (pascals)."""

    name: str
    room_dim: tuple[float, float, float]
    array_centre: tuple[float, float, float]  # room frame, metres
    ism_order: int
    rt60: float | None = None  # reverberant tail when set
    floor_only: bool = False  # outdoor: only the floor reflects
    floor_absorption: float = 0.05
    hvac_pa: float = 0.0  # ventilation noise through the reverberant field
    background_pa: float = 0.0  # distant sources (outdoor)
    wind_pa: float = 0.0  # wind noise (outdoor)
    sensor_noise_pa: float = 1e-3  # MEMS self-noise, ~34 dB SPL

    def array_to_room(self, p: np.ndarray) -> np.ndarray:
        """Array-frame points (..., 3) -> room-frame points."""
        return np.asarray(p) @ ARRAY_TO_ROOM.T + np.asarray(self.array_centre)

    def room_to_array(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q) - np.asarray(self.array_centre)) @ ARRAY_TO_ROOM

    def contains(self, p_array: np.ndarray, margin: float = 0.3) -> np.ndarray:
        q = self.array_to_room(p_array)
        return np.all((q > margin) & (q < np.asarray(self.room_dim) - margin), axis=-1)

    def make_room(self, fs: float, mics_array_frame: np.ndarray, order: int | None = None) -> pra.ShoeBox:
        """The pyroomacoustics room with the microphones placed and one source (moved later)."""
        order = self.ism_order if order is None else order
        if self.floor_only:
            walls = ("east", "west", "north", "south", "ceiling")
            materials = {w: pra.Material(1.0) for w in walls}
            materials["floor"] = pra.Material(self.floor_absorption)
        elif self.rt60 is not None:
            e_abs, _ = pra.inverse_sabine(self.rt60, list(self.room_dim))
            materials = pra.Material(e_abs)
        else:
            materials = pra.Material(1.0)
        room = pra.ShoeBox(list(self.room_dim), fs=fs, materials=materials, max_order=order)
        room.add_source(list(self.array_to_room(np.array([0.0, 0.0, 3.0]))))
        room.add_microphone_array(self.array_to_room(mics_array_frame).T)
        return room


_SCENARIOS = {
    "anechoic": Scenario("anechoic", (8.0, 8.0, 5.0), (4.0, 1.0, 1.4), ism_order=0),
    "indoor": Scenario("indoor", (12.0, 9.0, 3.0), (6.0, 1.0, 1.4), ism_order=3, rt60=0.7, hvac_pa=0.004),
    "outdoor": Scenario(
        "outdoor", (60.0, 60.0, 30.0), (30.0, 20.0, 1.4), ism_order=1, floor_only=True,
        background_pa=0.006, wind_pa=0.01,
    ),
}


def get_scenario(name: str) -> Scenario:
    if name not in _SCENARIOS:
        raise AcamError(f"scenario: expected one of {', '.join(SCENARIOS)}, found {name!r}")
    return _SCENARIOS[name]
