"""Where simulated sources are: static places and walking paths, in the array frame.

A source spec string is ``LABEL[:static|:walk][:silent][@X,Y,Z]``, e.g. ``clapping``,
``speech:walk``, ``whistling@0.5,-0.2,3``, ``hammering:walk:silent``: a sound class, how it
moves, whether it is a silent figure (seen performing, heard not at all), and optionally its
(starting) position in metres in the array frame (x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..array.camera import Camera
from ..options import huge_int as _huge, shown as _shown
from ..catalog import MOTIONS
from ..errors import AcamError
from ..options import COORDINATE, SIM_SECONDS, Real, xyz

WALK_SPEED = 1.2  # m/s, a leisurely walk
DEPTH_RANGE = (2.0, 5.0)  # metres in front of the array
HEIGHT_RANGE = (-0.5, 0.6)  # array-frame y (down): roughly hands to mouth height of a person
MIN_DEPTH_M = 0.1
"""A source stands at least this far in front of the array (z): at the array's centre its
direction, its picture and its level at the array are undefined (a NaN truth pixel)."""
SPEED = Real(0.0, 10.0, lo_open=True, unit="m/s")
"""How fast a walking source moves: a person sprints at 10 m/s."""
LEVEL_PA = Real(0.0, 2e4, lo_open=True, unit="Pa")
"""A source's level at 1 m: 2e4 Pa is 180 dB SPL, beyond any sound the simulation stands for."""
MAX_WAYPOINTS_PER_S = 100
"""A walk's waypoints, per simulated second, at most: the walk between them takes longer than
10 ms at any speed allowed; a walk that has not reached the end by then holds its last place."""


@dataclass(frozen=True)
class SourceSpec:
    """One simulated source: sound class, motion, optional position, level at 1 m (Pa).

    ``silent``: the figure is drawn performing its action (its sound's events light its arcs,
    as a sounding one's do) but radiates nothing: a decoy for localisation controls, where the
    picture alone must not tell which figure is heard."""

    label: str
    motion: str = "static"
    position: tuple[float, float, float] | None = None
    level_pa: float | None = None
    speed: float = WALK_SPEED
    silent: bool = False

    @classmethod
    def parse(cls, text: str) -> "SourceSpec":
        text = text.strip()
        pos = None
        if "@" in text:
            text, _, p = text.partition("@")
            try:
                pos = xyz(p, "position")
            except AcamError:
                raise AcamError(f"source {text!r}: position must be X,Y,Z in metres, each {COORDINATE.describe()}, "
                                f"got {p[:40]!r}") from None
        label, *flags = text.split(":")
        silent = "silent" in flags
        moves = [f for f in flags if f and f != "silent"]
        motion = moves[0] if len(moves) == 1 else "static" if not moves else ":".join(moves)
        if motion not in MOTIONS:
            raise AcamError(f"source {label!r}: motion must be one of {', '.join(MOTIONS)} (optionally with :silent), "
                            f"got {motion!r}")
        return cls(label=label, motion=motion, position=pos, silent=silent)

    def check(self, name: str | None = None) -> None:
        """Refuse, in one line, a source no simulation can place: a position that is not three
        finite numbers within 1 km of the array, or not at least :data:`MIN_DEPTH_M` in front of
        it; a speed or level outside :data:`SPEED` / :data:`LEVEL_PA`."""
        name = name or f"source {self.label!r}"
        if self.motion not in MOTIONS:
            raise AcamError(f"{name}: motion must be one of {', '.join(MOTIONS)}, got {_shown(self.motion)}")
        if self.position is not None:
            p = self.position
            if isinstance(p, str) or (isinstance(p, (tuple, list)) and any(_huge(v) or isinstance(v, bool) for v in p)):
                raise AcamError(f"{name} position: expected X,Y,Z in metres, each {COORDINATE.describe()}, "
                                f"found {_shown(p)}")
            pos = xyz(p, f"{name} position")
            if not pos[2] >= MIN_DEPTH_M:
                raise AcamError(f"{name} position: expected a place in front of the array (z >= {MIN_DEPTH_M:g} m), "
                                f"found z = {pos[2]:g} m")
        for value, spec, what in ((self.speed, SPEED, "speed"), (self.level_pa, LEVEL_PA, "level at 1 m")):
            if value is None and what != "speed":
                continue
            if isinstance(value, (str, bool)) or _huge(value):
                raise AcamError(f"{name} {what}: expected {spec.describe()}, found {_shown(value)}")
            spec(value, f"{name} {what}")


def parse_sources(text: str) -> tuple[SourceSpec, ...]:
    """Comma-separated specs; commas inside a position belong to it."""
    specs, cur = [], ""
    for part in text.split(","):
        if cur and "@" in cur and cur.count(",") < 2:
            cur += "," + part
        else:
            if cur:
                specs.append(cur)
            cur = part
    if cur:
        specs.append(cur)
    return tuple(SourceSpec.parse(s) for s in specs if s.strip())


@dataclass(frozen=True)
class Trajectory:
    """Piecewise-linear path: positions (K, 3) at times (K,) seconds; held after the end."""

    times: np.ndarray
    points: np.ndarray

    def position(self, t: float | np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return np.stack([np.interp(t, self.times, self.points[:, i]) for i in range(3)], axis=-1)

    @property
    def is_static(self) -> bool:
        return len(self.times) == 1 or bool(np.all(self.points == self.points[0]))


def random_visible_point(camera: Camera, rng: np.random.Generator, inside=lambda p: True, subject=None) -> np.ndarray:
    """A point in front of the camera, inside the central 80% of the picture, at a plausible
    height and depth, and accepted by `inside` (e.g. the room); near where ``subject`` (a
    :class:`~acoustic_camera.sim.subjects.Subject`) usually stands, if given."""
    for attempt in range(1000):
        if subject is not None and attempt < 500:
            z = float(np.clip(subject.depth_m + rng.uniform(-1, 1) * subject.stray_m, *DEPTH_RANGE))
            y = float(np.clip(subject.hands_m + rng.uniform(-0.5, 0.6) * 0.5, *HEIGHT_RANGE))
            u = float(np.clip(subject.across + rng.uniform(-1, 1) * subject.stray_m * 0.3, 0.1, 0.9)) * camera.width
        else:
            z = rng.uniform(*DEPTH_RANGE)
            y = rng.uniform(*HEIGHT_RANGE)
            u = rng.uniform(0.1, 0.9) * camera.width
        ray = camera.backproject(np.array([u, camera.cy]), z)
        p = np.array([ray[0], y, z])
        uv, front = camera.project(p)
        inner = (0.1 * camera.width <= uv[0] <= 0.9 * camera.width) and (0.1 * camera.height <= uv[1] <= 0.9 * camera.height)
        if front and inner and inside(p):
            return p
    raise AcamError("could not place a source inside the picture and the room")


def make_trajectory(spec: SourceSpec, camera: Camera, duration: float, rng: np.random.Generator,
                    inside=lambda p: True, subject=None) -> Trajectory:
    """A static position or a walk between random visible points at `spec.speed` (a subject's
    own pace and places, if given), with pauses."""
    spec.check()
    if isinstance(duration, (str, bool)) or _huge(duration):
        raise AcamError(f"duration: expected {SIM_SECONDS.describe()}, found {_shown(duration)}")
    duration = SIM_SECONDS(duration, "duration")
    speed = SPEED(subject.speed_m_s if subject is not None else spec.speed, f"source {spec.label!r} speed")
    start = (np.array(spec.position, dtype=np.float64) if spec.position
             else random_visible_point(camera, rng, inside, subject))
    if spec.motion == "static":
        return Trajectory(np.array([0.0]), start[None, :])
    times, points, t, p = [0.0], [start], 0.0, start
    max_points = int(MAX_WAYPOINTS_PER_S * (duration + 1.0)) + 2
    while t < duration + 1.0 and len(times) < max_points:
        q = random_visible_point(camera, rng, inside, subject)
        t += float(np.linalg.norm(q - p)) / speed
        times.append(t)
        points.append(q)
        if rng.random() < 0.3:  # stop for a moment, as people do
            t += rng.uniform(0.5, 2.0)
            times.append(t)
            points.append(q)
        p = q
    return Trajectory(np.array(times), np.array(points))
