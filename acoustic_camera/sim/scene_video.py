"""Procedural video frames for the simulated acoustic camera.

The simulator has no real camera, so the frames are drawn with OpenCV: a
scenario backdrop (computed once per session by :func:`make_background`) and,
for every sound source, a small person holding an object that identifies the
sound class (:func:`draw_frame`).  The object is centred exactly on the
source's projected pixel, the point where the sound is emitted, so that an
acoustic image overlaid later lines up with something visible.

All images are ``uint8`` arrays in **RGB** order, shape ``(height, width, 3)``.
OpenCV's drawing functions only see three channels and do not care about their
meaning, so every colour in this module is written as an RGB tuple.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..catalog import SCENARIOS
from ..constants import MARKER_DICTIONARY
from ..errors import AcamError


#: One distinct, saturated RGB colour per sound class; the class's object is
#: drawn in it, so the colour alone tells which source is which.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {
    "clapping": (235, 35, 35),
    "snapping": (255, 215, 0),
    "whistling": (0, 215, 215),
    "knocking": (255, 125, 0),
    "typing": (40, 205, 40),
    "paper_ripping": (255, 0, 190),
    "speech": (30, 90, 255),
    "hammering": (150, 40, 255),
    "kendama": (158, 255, 89),
    "clicking": (255, 89, 255),
    "peanut_breaking": (255, 89, 131),
    "plastic_crumpling": (89, 255, 172),
    "paper_shaking": (89, 179, 255),
    "stick_dropping": (0, 255, 117),
}

# Unknown labels still get a figure; light grey cannot be confused with a class.
_GENERIC_COLOR = (225, 225, 225)

_BODY_COLOR = (38, 42, 54)
_HEAD_COLOR = (62, 67, 82)
_OUTLINE_COLOR = (15, 15, 20)

# Sprite height: about 60 px at 3 m in a 640-px-wide image, proportional to 1/distance.
_SPRITE_PX_AT_3M = 60.0
# Below this distance the sprite would fill the frame; clamp instead of blowing up.
_MIN_DISTANCE_M = 0.5

# Sub-pixel drawing: OpenCV takes fixed-point coordinates with this many fractional bits,
# which keeps the emission point exactly at a float pixel instead of rounding it.
_SHIFT = 4
_ONE = 1 << _SHIFT

# Emission point (hands / mouth / tool) per class, in sprite units (1.0 = sprite height)
# relative to the centre of the person's head, x to the right, y down.
_EMISSION = {
    "clapping": (0.0, 0.30),
    "snapping": (0.30, 0.05),
    "whistling": (0.0, 0.035),
    "knocking": (0.36, 0.22),
    "typing": (0.0, 0.40),
    "paper_ripping": (0.0, 0.30),
    "speech": (0.0, 0.035),
    "hammering": (0.30, 0.30),
    "kendama": (0.20, -0.02),
    "clicking": (0.10, 0.26),
    "peanut_breaking": (0.0, 0.28),
    "plastic_crumpling": (0.0, 0.30),
    "paper_shaking": (0.0, 0.0),
    "stick_dropping": (0.28, 0.86),
}
_GENERIC_EMISSION = (0.0, 0.30)

# Inner radius of the "sounding" arcs, just outside the class object so they never cover it.
_ARC_START = {"knocking": 0.17, "typing": 0.22, "paper_ripping": 0.19, "speech": 0.12}
_DEFAULT_ARC_START = 0.13


# --------------------------------------------------------------------------- backgrounds


def make_background(scenario: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Draw the backdrop of a scenario.

    Parameters
    ----------
    scenario : one of :data:`acoustic_camera.catalog.SCENARIOS`:
        ``"anechoic"`` an anechoic chamber (grey-blue foam wedges, wire-grid floor);
        ``"indoor"`` an open-space office (wall, windows, desks with monitors,
        floor in perspective);
        ``"outdoor"`` a terrace (sky gradient with clouds, skyline of buildings and
        trees, railing, paved floor).
    width, height : image size in pixels.
    rng : source of the random layout details; equal generator states give equal images.

    Returns
    -------
    np.ndarray
        ``uint8`` RGB image of shape ``(height, width, 3)``.

    Raises
    ------
    AcamError
        If ``scenario`` is not one of the scenarios.
    """
    if scenario not in SCENARIOS:
        raise AcamError(f"scenario: expected one of {', '.join(SCENARIOS)}, found {scenario!r}")
    if width < 1 or height < 1:
        raise AcamError(f"image size: expected positive width and height, found {width}x{height}")
    draw = {"anechoic": _anechoic, "indoor": _indoor, "outdoor": _outdoor}[scenario]
    img = draw(int(width), int(height), rng)
    # Fine sensor-like grain so flat areas do not look synthetic.
    return _add_grain(img, rng, sigma=2.5)


def _add_grain(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    grain = rng.normal(0.0, sigma, img.shape[:2]).astype(np.float32)
    return np.clip(img.astype(np.float32) + grain[..., None], 0, 255).astype(np.uint8)


def _vertical_gradient(height: int, width: int, top, bottom) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rows = (1.0 - t) * np.asarray(top, np.float32) + t * np.asarray(bottom, np.float32)
    return np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (height, width, 3))).astype(np.uint8)


def _ipt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def _perspective_grid(img: np.ndarray, y_top: float, color, n_columns: int, n_rows: int, thickness: int = 1):
    """Grid lines of a floor plane seen from eye height: columns converge to a vanishing
    point above the floor's far edge ``y_top`` and rows get denser with distance (y ~ 1/z)."""
    h, w = img.shape[:2]
    vx, vy = w / 2.0, y_top - 0.35 * (h - y_top)
    spacing = w / n_columns
    for i in range(-3 * n_columns, 3 * n_columns + 1):
        xb = vx + (i + 0.5) * spacing
        xt = vx + (xb - vx) * (y_top - vy) / (h - vy)
        # Extend below the image so lines leaving through the sides are still drawn.
        x_far = vx + (xb - vx) * (2 * h - vy) / (h - vy)
        cv2.line(img, _ipt(xt, y_top), _ipt(x_far, 2 * h), color, thickness, cv2.LINE_AA, _SHIFT)
    z_far = (h - vy) / (y_top - vy)
    for k in range(1, n_rows + 1):
        z = 1.0 + (z_far - 1.0) * (k / n_rows) ** 1.5
        y = vy + (h - vy) / z
        cv2.line(img, _ipt(0, y), _ipt(w, y), color, thickness, cv2.LINE_AA, _SHIFT)


def _vignette(img: np.ndarray, strength: float) -> np.ndarray:
    h, w = img.shape[:2]
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    gain = 1.0 - strength * (x * x + y * y) / 2.0
    return np.clip(img * gain[..., None], 0, 255).astype(np.uint8)


def _foam_wedges(height: int, width: int, tile: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness (h, w) of foam wedge blocks: each square block holds three ridges,
    blocks alternate between horizontal and vertical ridges like real chamber lining.
    Light comes from the upper left, so faces turned up/left are brighter."""
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    ty, tx = (yy // tile).astype(np.int32), (xx // tile).astype(np.int32)
    fy, fx = (yy % tile) / tile, (xx % tile) / tile
    horizontal = (ty + tx) % 2 == 0
    p = (np.where(horizontal, fy, fx) * 3.0) % 1.0  # 0 = valley, 0.5 = ridge
    lit = np.where(horizontal, 1.0, 0.92)
    shade = np.where(p < 0.5, 0.78 + 0.64 * p, 1.0 - 0.76 * (p - 0.5)) * lit
    shade = np.where((p < 0.03) | (p > 0.97), shade * 0.8, shade)  # dark crease in valleys
    jitter = rng.uniform(0.94, 1.05, size=(int(ty.max()) + 1, int(tx.max()) + 1)).astype(np.float32)
    return shade * jitter[ty, tx]


def _anechoic(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    y_floor = int(0.74 * height)
    tile = max(12.0, 48.0 * width / 640.0)
    shade = _foam_wedges(height, width, tile, rng)
    foam = np.asarray((118, 128, 148), np.float32)
    img = shade[..., None] * foam
    # Below the wire floor the wedges lie in shadow.
    img[y_floor:] *= 0.42
    img = np.clip(img, 0, 255).astype(np.uint8)
    s = width / 640.0
    cv2.line(img, (0, y_floor), (width, y_floor), (55, 58, 66), max(1, round(3 * s)), cv2.LINE_AA)
    _perspective_grid(img, y_floor, (178, 182, 190), n_columns=14, n_rows=9, thickness=max(1, round(s)))
    return _vignette(img, 0.35)


def _indoor(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    w, h, s = width, height, width / 640.0
    y_ceil, y_floor = int(0.10 * h), int(0.64 * h)
    img = np.empty((h, w, 3), np.uint8)
    img[:y_ceil] = (226, 226, 221)
    img[y_ceil:y_floor] = _vertical_gradient(y_floor - y_ceil, w, (224, 216, 198), (200, 192, 174))
    img[y_floor:] = _vertical_gradient(h - y_floor, w, (112, 106, 100), (140, 132, 122))
    # Ceiling light panels.
    for i in range(4):
        cx = (i + 0.5) * w / 4
        cv2.rectangle(img, (int(cx - 0.07 * w), int(0.025 * h)), (int(cx + 0.07 * w), int(0.06 * h)), (250, 250, 244), -1)
    cv2.line(img, (0, y_ceil), (w, y_ceil), (185, 183, 178), max(1, round(2 * s)))
    # Windows: evenly spread with random jitter, sky-coloured panes, white frames and mullions.
    n_win = int(rng.integers(3, 5))
    win_w, y0, y1 = 0.15 * w, int(0.17 * h), int(0.47 * h)
    for i in range(n_win):
        cx = (i + 0.5) * w / n_win + rng.uniform(-0.03, 0.03) * w
        x0, x1 = int(cx - win_w / 2), int(cx + win_w / 2)
        pane = _vertical_gradient(y1 - y0, x1 - x0, (150, 195, 235), (212, 230, 244))
        img[y0:y1, max(x0, 0):min(x1, w)] = pane[:, max(-x0, 0):(x1 - x0) - max(x1 - w, 0)]
        frame_t = max(1, round(3 * s))
        cv2.rectangle(img, (x0, y0), (x1, y1), (246, 246, 246), frame_t)
        cv2.line(img, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), (246, 246, 246), frame_t)
        cv2.line(img, (x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2), (246, 246, 246), frame_t)
    cv2.line(img, (0, y_floor), (w, y_floor), (105, 95, 85), max(1, round(4 * s)))
    _perspective_grid(img, y_floor, (124, 117, 109), n_columns=10, n_rows=8)
    # Back row of desks against the wall, then two larger ones in the foreground corners.
    n_desks = int(rng.integers(3, 5))
    for i in range(n_desks):
        cx = (i + 0.5) * w / n_desks + rng.uniform(-0.04, 0.04) * w
        _desk(img, cx, y_floor + 0.02 * h, 0.17 * w, 0.06 * h, rng)
    _desk(img, 0.03 * w, 0.84 * h, 0.26 * w, 0.10 * h, rng)
    _desk(img, 0.97 * w, 0.84 * h, 0.26 * w, 0.10 * h, rng)
    return img


def _desk(img: np.ndarray, cx: float, y_feet: float, desk_w: float, desk_h: float, rng: np.random.Generator):
    """Desk silhouette standing on ``y_feet`` with one or two monitors on top."""
    top_y = y_feet - desk_h
    leg_t = max(1, round(desk_w * 0.03))
    top_color, leg_color, screen = (150, 112, 76), (70, 66, 64), (32, 34, 40)
    for lx in (cx - 0.44 * desk_w, cx + 0.44 * desk_w):
        cv2.line(img, _ipt(lx, top_y), _ipt(lx, y_feet), leg_color, leg_t, cv2.LINE_AA, _SHIFT)
    cv2.rectangle(img, _ipt(cx - desk_w / 2, top_y - 0.12 * desk_h), _ipt(cx + desk_w / 2, top_y + 0.12 * desk_h),
                  top_color, -1, cv2.LINE_AA, _SHIFT)
    n_mon = int(rng.integers(1, 3))
    for j in range(n_mon):
        mx = cx + (j - (n_mon - 1) / 2) * 0.36 * desk_w
        mw, mh = 0.30 * desk_w, 0.9 * desk_h
        base = top_y - 0.12 * desk_h
        cv2.line(img, _ipt(mx, base), _ipt(mx, base - 0.35 * mh), leg_color, leg_t, cv2.LINE_AA, _SHIFT)
        cv2.rectangle(img, _ipt(mx - mw / 2, base - 0.3 * mh - mh), _ipt(mx + mw / 2, base - 0.3 * mh),
                      screen, -1, cv2.LINE_AA, _SHIFT)


def _outdoor(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    w, h, s = width, height, width / 640.0
    y_city, y_floor = int(0.62 * h), int(0.70 * h)
    img = np.empty((h, w, 3), np.uint8)
    img[:y_city] = _vertical_gradient(y_city, w, (62, 118, 204), (188, 216, 240))
    # Clouds: clusters of overlapping puffs, softened with a blur of the sky only.
    for _ in range(int(rng.integers(3, 6))):
        cx, cy = rng.uniform(0.0, 1.0) * w, rng.uniform(0.06, 0.32) * h
        for _ in range(int(rng.integers(4, 7))):
            r = rng.uniform(0.02, 0.045) * w
            px, py = cx + rng.uniform(-0.07, 0.07) * w, cy + rng.uniform(-0.015, 0.015) * h
            cv2.circle(img, _ipt(px, py), int(r * _ONE), (247, 248, 252), -1, cv2.LINE_AA, _SHIFT)
    k = 2 * max(1, round(3 * s)) + 1
    img[:y_city] = cv2.GaussianBlur(img[:y_city], (k, k), 0)
    img[y_city:y_floor] = (150, 156, 162)
    # Skyline: buildings of random width/height, washed out by distance, with window grids.
    x = -rng.uniform(0.0, 0.05) * w
    while x < w:
        bw = rng.uniform(0.05, 0.12) * w
        bh = rng.uniform(0.08, 0.30) * h
        tone = rng.uniform(0.85, 1.1)
        color = tuple(int(c * tone) for c in (128, 138, 158))
        top = y_city - bh
        cv2.rectangle(img, _ipt(x, top), _ipt(x + bw, y_floor), color, -1, cv2.LINE_AA, _SHIFT)
        window = tuple(min(255, int(c * 1.18)) for c in color)
        step_x, step_y = 0.018 * w, 0.03 * h
        for wy in np.arange(top + step_y * 0.6, y_city - step_y * 0.5, step_y):
            for wx in np.arange(x + step_x * 0.6, x + bw - step_x * 0.6, step_x):
                cv2.rectangle(img, (int(wx), int(wy)), (int(wx + 0.45 * step_x), int(wy + 0.45 * step_y)), window, -1)
        x += bw + rng.uniform(0.0, 0.04) * w
    for _ in range(int(rng.integers(4, 8))):
        tx, r = rng.uniform(0.0, 1.0) * w, rng.uniform(0.022, 0.04) * w
        cv2.line(img, _ipt(tx, y_floor), _ipt(tx, y_city - r), (78, 64, 50), max(1, round(3 * s)), cv2.LINE_AA, _SHIFT)
        for dx, dy in ((0.0, -1.4), (-0.7, -0.8), (0.7, -0.8)):
            cv2.circle(img, _ipt(tx + dx * r, y_city + dy * r), int(r * _ONE), (58, 104, 60), -1, cv2.LINE_AA, _SHIFT)
    # Paved terrace floor.
    img[y_floor:] = _vertical_gradient(h - y_floor, w, (176, 168, 154), (198, 190, 176))
    _perspective_grid(img, y_floor, (146, 138, 126), n_columns=12, n_rows=10)
    # Railing along the terrace edge: parapet, posts and balusters, then rails on top.
    metal, rail_t = (70, 75, 84), max(1, round(4 * s))
    cv2.rectangle(img, (0, int(y_floor - 0.02 * h)), (w, y_floor), (168, 163, 156), -1)
    y_rail = y_floor - 0.17 * h
    for bx in np.arange(0.0, w + 1, 0.035 * w):
        cv2.line(img, _ipt(bx, y_rail), _ipt(bx, y_floor - 0.02 * h), metal, max(1, round(2 * s)), cv2.LINE_AA, _SHIFT)
    for yr in (y_rail, y_floor - 0.08 * h):
        cv2.line(img, _ipt(0, yr), _ipt(w, yr), metal, rail_t, cv2.LINE_AA, _SHIFT)
    cv2.line(img, _ipt(0, y_rail - rail_t / 3), _ipt(w, y_rail - rail_t / 3), (150, 156, 166), 1, cv2.LINE_AA, _SHIFT)
    return img


# --------------------------------------------------------------------------- sprites


@dataclass(frozen=True)
class SourceSprite:
    """One sound source as drawn in the video.

    Attributes
    ----------
    label : sound class, one of the keys of :data:`CLASS_COLORS`; unknown labels
        are drawn with a generic look.
    pixel : ``(u, v)`` projected emission point in video pixels (u right, v down,
        pixel centres at integers); may lie outside the image.
    distance_m : distance from the camera; the sprite is about 60 px tall at 3 m
        in a 640-px-wide image, scaling with ``1 / distance_m`` and image width.
    active : whether the source is sounding now; active sprites get sound-wave arcs.
    clothes, skin : RGB colours of the person (a simulated subject's); default dark grey.
    """

    label: str
    pixel: tuple[float, float]
    distance_m: float
    active: bool
    clothes: tuple[int, int, int] | None = None  # a subject's own colours; None: the default figure's
    skin: tuple[int, int, int] | None = None


class _Pen:
    """Draws in sprite units (1.0 = sprite height), origin at the centre of the head,
    with sub-pixel precision and anti-aliasing."""

    def __init__(self, img: np.ndarray, ox: float, oy: float, size: float):
        self.img, self.ox, self.oy, self.size = img, ox, oy, size
        self.body, self.head = _BODY_COLOR, _HEAD_COLOR

    def pt(self, x: float, y: float) -> tuple[int, int]:
        return _ipt(self.ox + x * self.size, self.oy + y * self.size)

    def width(self, t: float) -> int:
        return max(1, int(round(t * self.size)))

    def circle(self, x, y, r, color, thickness: float | None = None):
        t = -1 if thickness is None else self.width(thickness)
        cv2.circle(self.img, self.pt(x, y), max(1, int(round(r * self.size * _ONE))), color, t, cv2.LINE_AA, _SHIFT)

    def ellipse(self, x, y, ax, ay, angle, color, start=0.0, end=360.0, thickness: float | None = None):
        t = -1 if thickness is None else self.width(thickness)
        axes = (max(1, int(round(ax * self.size * _ONE))), max(1, int(round(ay * self.size * _ONE))))
        cv2.ellipse(self.img, self.pt(x, y), axes, angle, start, end, color, t, cv2.LINE_AA, _SHIFT)

    def line(self, p0, p1, color, thickness: float):
        cv2.line(self.img, self.pt(*p0), self.pt(*p1), color, self.width(thickness), cv2.LINE_AA, _SHIFT)

    def poly(self, points, color):
        pts = np.array([self.pt(x, y) for x, y in points], np.int32)
        cv2.fillPoly(self.img, [pts], color, cv2.LINE_AA, _SHIFT)

    def outline(self, points, color, thickness: float, closed: bool = True):
        pts = np.array([self.pt(x, y) for x, y in points], np.int32)
        cv2.polylines(self.img, [pts], closed, color, self.width(thickness), cv2.LINE_AA, _SHIFT)

    def rect(self, x0, y0, x1, y1, color):
        self.poly(((x0, y0), (x1, y0), (x1, y1), (x0, y1)), color)


_ARMS_DOWN = ((-0.17, 0.48), (0.17, 0.48))


def _person(pen: _Pen, hands=_ARMS_DOWN, fists: bool = True):
    """Silhouette: legs, torso, head and two straight arms ending at ``hands``."""
    leg = 0.075
    pen.line((-0.06, 0.5), (-0.08, 0.9), pen.body, leg)
    pen.line((0.06, 0.5), (0.08, 0.9), pen.body, leg)
    pen.poly(((-0.15, 0.14), (0.15, 0.14), (0.12, 0.55), (-0.12, 0.55)), pen.body)
    for (sx, sy), hand in zip(((-0.13, 0.17), (0.13, 0.17)), hands):
        pen.line((sx, sy), hand, pen.body, 0.055)
        if fists:
            pen.circle(*hand, 0.03, pen.head)
    pen.circle(0.0, 0.0, 0.085, pen.head)


def _clapping(pen: _Pen, color):
    ex, ey = _EMISSION["clapping"]
    _person(pen, ((ex - 0.03, ey + 0.01), (ex + 0.03, ey + 0.01)), fists=False)
    # Two palms (coloured gloves) meeting at the emission point.
    pen.ellipse(ex - 0.02, ey, 0.024, 0.055, 15, color)
    pen.ellipse(ex + 0.02, ey, 0.024, 0.055, -15, color)


def _snapping(pen: _Pen, color):
    ex, ey = _EMISSION["snapping"]
    _person(pen, (_ARMS_DOWN[0], (ex - 0.03, ey + 0.05)))
    # Eight-point spark where the fingers snap.
    radii = [0.085 if i % 2 == 0 else 0.032 for i in range(16)]
    star = [(ex + r * math.cos(i * math.pi / 8), ey + r * math.sin(i * math.pi / 8)) for i, r in enumerate(radii)]
    pen.poly(star, color)


def _music_note(pen: _Pen, x, y, color):
    pen.ellipse(x, y, 0.03, 0.021, -20, color)
    pen.line((x + 0.026, y - 0.005), (x + 0.026, y - 0.11), color, 0.014)
    pen.line((x + 0.026, y - 0.11), (x + 0.065, y - 0.075), color, 0.014)


def _whistling(pen: _Pen, color):
    ex, ey = _EMISSION["whistling"]
    _person(pen)
    pen.ellipse(ex, ey, 0.032, 0.026, 0, color)  # puckered lips
    _music_note(pen, ex + 0.17, ey - 0.10, color)
    _music_note(pen, ex + 0.30, ey - 0.20, color)


def _knocking(pen: _Pen, color):
    ex, ey = _EMISSION["knocking"]
    dark = tuple(int(c * 0.6) for c in color)
    # Door centred on the knock point; panels leave its middle plain so the centre keeps its colour.
    pen.rect(ex - 0.11, ey - 0.34, ex + 0.11, ey + 0.34, color)
    pen.outline(((ex - 0.11, ey - 0.34), (ex + 0.11, ey - 0.34), (ex + 0.11, ey + 0.34), (ex - 0.11, ey + 0.34)),
                dark, 0.015)
    for y0, y1 in ((ey - 0.29, ey - 0.09), (ey + 0.09, ey + 0.29)):
        pen.outline(((ex - 0.07, y0), (ex + 0.07, y0), (ex + 0.07, y1), (ex - 0.07, y1)), dark, 0.012)
    pen.circle(ex + 0.08, ey, 0.014, dark)  # door knob
    _person(pen, (_ARMS_DOWN[0], (ex - 0.07, ey)))


def _typing(pen: _Pen, color):
    ex, ey = _EMISSION["typing"]
    _person(pen, ((ex - 0.09, ey - 0.03), (ex + 0.09, ey - 0.03)), fists=False)
    pen.rect(ex - 0.19, ey - 0.06, ex + 0.19, ey + 0.06, color)
    # Two rows of keys above and below the centre line; on small sprites keys would only
    # smear the slab's colour, so they are left out there.
    dark = tuple(int(c * 0.45) for c in color)
    for row in (-0.032, 0.032) if pen.size >= 70 else ():
        for i in range(8):
            kx = ex - 0.155 + i * 0.044
            pen.rect(kx - 0.014, ey + row - 0.013, kx + 0.014, ey + row + 0.013, dark)
    for hx in (ex - 0.09, ex + 0.09):
        pen.circle(hx, ey - 0.035, 0.03, pen.head)


def _paper_ripping(pen: _Pen, color):
    ex, ey = _EMISSION["paper_ripping"]
    # Two halves pulled apart along a jagged tear that has run down to the emission point;
    # below it the sheet is still whole, so the emission point lies on paper.
    left = [(-0.14, -0.14), (-0.02, -0.16), (0.0, -0.10), (-0.015, -0.05), (0.005, 0.0), (0.0, 0.15), (-0.12, 0.15)]
    right = [(0.02, -0.16), (0.14, -0.14), (0.12, 0.15), (0.0, 0.15), (0.005, 0.0), (0.015, -0.05), (0.02, -0.10)]
    hands = ((ex - 0.13, ey - 0.12), (ex + 0.13, ey - 0.12))
    _person(pen, hands, fists=False)
    for half in (left, right):
        pen.poly([(ex + x, ey + y) for x, y in half], color)
    for hand in hands:
        pen.circle(*hand, 0.03, pen.head)


def _speech(pen: _Pen, color):
    ex, ey = _EMISSION["speech"]
    _person(pen, (_ARMS_DOWN[0], (0.24, 0.30)))
    pen.ellipse(ex, ey, 0.036, 0.02, 0, color)  # open mouth
    bx, by = ex + 0.30, ey - 0.27
    pen.poly(((bx - 0.13, by + 0.06), (bx - 0.06, by + 0.09), (ex + 0.07, ey - 0.02)), (250, 250, 250))
    pen.ellipse(bx, by, 0.19, 0.11, 0, (250, 250, 250))
    pen.ellipse(bx, by, 0.19, 0.11, 0, color, thickness=0.018)
    for dx in (-0.07, 0.0, 0.07):
        pen.circle(bx + dx, by, 0.022, color)


def _hammering(pen: _Pen, color):
    ex, ey = _EMISSION["hammering"]
    grip = (ex - 0.15, ey + 0.05)
    pen.rect(ex - 0.09, ey + 0.08, ex + 0.09, ey + 0.15, (120, 100, 80))  # workpiece under the hammer
    _person(pen, (_ARMS_DOWN[0], grip), fists=False)
    pen.line(grip, (ex, ey), (140, 96, 56), 0.028)  # handle
    pen.rect(ex - 0.035, ey - 0.075, ex + 0.035, ey + 0.075, color)  # head, centred on the strike point
    pen.circle(*grip, 0.03, pen.head)


def _kendama(pen: _Pen, color):
    ex, ey = _EMISSION["kendama"]
    grip = (ex, ey + 0.20)
    _person(pen, (_ARMS_DOWN[0], grip), fists=False)
    pen.line(grip, (ex, ey + 0.05), (190, 150, 100), 0.026)  # the ken, its cup at the top
    pen.ellipse(ex, ey + 0.05, 0.045, 0.018, 0, (190, 150, 100))
    pen.line((ex, ey + 0.05), (ex, ey), (90, 90, 90), 0.006)  # string
    pen.circle(ex, ey, 0.042, color)  # the ball, landing
    pen.circle(*grip, 0.03, pen.head)


def _clicking(pen: _Pen, color):
    ex, ey = _EMISSION["clicking"]
    grip = (ex - 0.02, ey + 0.10)
    _person(pen, (_ARMS_DOWN[0], grip), fists=False)
    pen.line(grip, (ex, ey), color, 0.022)  # the pen, its button up
    pen.circle(ex, ey, 0.022, color)
    pen.circle(*grip, 0.03, pen.head)


def _peanut_breaking(pen: _Pen, color):
    ex, ey = _EMISSION["peanut_breaking"]
    hands = ((ex - 0.06, ey + 0.01), (ex + 0.06, ey + 0.01))
    _person(pen, hands, fists=False)
    pen.ellipse(ex - 0.03, ey, 0.04, 0.028, 10, color)  # the shell's two lobes
    pen.ellipse(ex + 0.03, ey, 0.04, 0.028, -10, color)
    for hand in hands:
        pen.circle(*hand, 0.028, pen.head)


def _plastic_crumpling(pen: _Pen, color):
    ex, ey = _EMISSION["plastic_crumpling"]
    hands = ((ex - 0.08, ey), (ex + 0.08, ey))
    _person(pen, hands, fists=False)
    crumpled = [(0.075, 0.0), (0.04, 0.05), (0.01, 0.03), (-0.04, 0.07), (-0.075, 0.01), (-0.05, -0.03),
                (-0.06, -0.07), (-0.01, -0.045), (0.03, -0.08), (0.055, -0.03)]
    pen.poly([(ex + x, ey + y) for x, y in crumpled], color)
    for hand in hands:
        pen.circle(*hand, 0.03, pen.head)


def _paper_shaking(pen: _Pen, color):
    ex, ey = _EMISSION["paper_shaking"]
    hands = ((ex - 0.12, ey - 0.1), (ex + 0.12, ey - 0.1))
    _person(pen, hands, fists=False)
    pen.poly(((ex - 0.12, ey - 0.12), (ex + 0.12, ey - 0.10), (ex + 0.10, ey + 0.14), (ex - 0.13, ey + 0.12)), color)
    for hand in hands:
        pen.circle(*hand, 0.03, pen.head)


def _stick_dropping(pen: _Pen, color):
    ex, ey = _EMISSION["stick_dropping"]
    _person(pen)
    pen.line((ex - 0.11, ey - 0.025), (ex + 0.11, ey + 0.025), color, 0.03)  # the stick, landing flat
    pen.circle(ex, ey, 0.03, color)


def _generic(pen: _Pen, color):
    ex, ey = _GENERIC_EMISSION
    _person(pen, ((ex - 0.04, ey + 0.02), (ex + 0.04, ey + 0.02)), fists=False)
    pen.circle(ex, ey, 0.06, color)
    pen.circle(ex, ey, 0.06, _OUTLINE_COLOR, thickness=0.012)


_DRAWERS = {
    "clapping": _clapping,
    "snapping": _snapping,
    "whistling": _whistling,
    "knocking": _knocking,
    "typing": _typing,
    "paper_ripping": _paper_ripping,
    "speech": _speech,
    "hammering": _hammering,
    "kendama": _kendama,
    "clicking": _clicking,
    "peanut_breaking": _peanut_breaking,
    "plastic_crumpling": _plastic_crumpling,
    "paper_shaking": _paper_shaking,
    "stick_dropping": _stick_dropping,
}


def _sound_arcs(pen: _Pen, ex: float, ey: float, r0: float, color, frame_index: int):
    """Three arcs on each side of the emission point, drifting outwards with the frame
    index (period 4 frames) so an active source visibly pulses."""
    phase = (frame_index % 4) / 4.0
    for k in range(3):
        r = r0 + 0.065 * (k + phase)
        for start in (-30.0, 150.0):
            pen.ellipse(ex, ey, r, r, 0.0, color, start, start + 60.0, thickness=0.016)


def _label(img: np.ndarray, text: str, x: float, y_top: float, size: float, color):
    """Class name centred under the feet, with a dark outline so it reads on any backdrop."""
    scale = min(1.0, max(0.3, 0.38 * size / _SPRITE_PX_AT_3M))
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
    ox, oy = int(round(x - tw / 2)), int(round(y_top + th))
    # Outline by shifted copies: a thicker stroke would change the glyph advance in OpenCV 5
    # and the two layers would drift apart.
    for dx, dy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
        cv2.putText(img, text, (ox + dx, oy + dy), font, scale, _OUTLINE_COLOR, 1, cv2.LINE_AA)
    cv2.putText(img, text, (ox, oy), font, scale, color, 1, cv2.LINE_AA)


def _draw_sprite(img: np.ndarray, sprite: SourceSprite, frame_index: int):
    h, w = img.shape[:2]
    u, v = float(sprite.pixel[0]), float(sprite.pixel[1])
    d = float(sprite.distance_m)
    if not (math.isfinite(u) and math.isfinite(v) and math.isfinite(d)):
        return
    size = _SPRITE_PX_AT_3M * 3.0 / max(d, _MIN_DISTANCE_M) * (w / 640.0)
    # Skip sprites that cannot touch the image: saves time, and keeps far-off coordinates
    # from overflowing OpenCV's 32-bit fixed-point arithmetic.
    reach = 1.6 * size + 120.0 * w / 640.0
    if u < -reach or v < -reach or u > w - 1 + reach or v > h - 1 + reach:
        return
    color = CLASS_COLORS.get(sprite.label, _GENERIC_COLOR)
    ex, ey = _EMISSION.get(sprite.label, _GENERIC_EMISSION)
    pen = _Pen(img, u - ex * size, v - ey * size, size)
    pen.body = sprite.clothes or _BODY_COLOR
    pen.head = sprite.skin or _HEAD_COLOR
    _DRAWERS.get(sprite.label, _generic)(pen, color)
    if sprite.active:
        _sound_arcs(pen, ex, ey, _ARC_START.get(sprite.label, _DEFAULT_ARC_START), color, frame_index)
    _label(img, sprite.label, pen.ox, pen.oy + 0.97 * size, size, color)


def draw_frame(background: np.ndarray, sprites: Sequence[SourceSprite], frame_index: int = 0) -> np.ndarray:
    """Draw one video frame.

    Parameters
    ----------
    background : ``uint8`` RGB image ``(height, width, 3)``, e.g. from :func:`make_background`;
        it is not modified.
    sprites : sources to draw; each one's class object is centred on its ``pixel``.
        Farther sprites are drawn first so nearer ones cover them (painter's order).
        Sprites partly or wholly outside the image are clipped.
    frame_index : animates the sound-wave arcs of active sprites (deterministically).

    Returns
    -------
    np.ndarray
        A new ``uint8`` RGB image of the same shape as ``background``.
    """
    background = np.asarray(background)
    if background.dtype != np.uint8 or background.ndim != 3 or background.shape[2] != 3:
        raise AcamError(f"background: expected a uint8 (height, width, 3) image, found {background.dtype} {background.shape}")
    frame = background.copy()
    for sprite in sorted(sprites, key=lambda s: -float(s.distance_m)):
        _draw_sprite(frame, sprite, int(frame_index))
    return frame


def draw_marker(frame: np.ndarray, corners: np.ndarray, marker_id: int) -> None:
    """Paint ArUco marker ``marker_id`` (:data:`~acoustic_camera.constants.MARKER_DICTIONARY`)
    into ``frame`` in place, its black square's corners at ``corners`` (4, 2) pixels (top-left,
    top-right, bottom-right, bottom-left, as OpenCV reports them), inside a white quiet zone one
    module wide; the square is mapped by the homography of its corners."""
    corners = np.asarray(corners, dtype=np.float64)
    if not np.all(np.isfinite(corners)):
        return
    h, w = frame.shape[:2]
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    if hi[0] < -1 or hi[1] < -1 or lo[0] > w or lo[1] > h:
        return
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER_DICTIONARY))
    modules = dictionary.markerSize + 2  # the code and its black border
    edge = float(np.max(np.linalg.norm(corners - np.roll(corners, 1, axis=0), axis=1)))
    px = max(2, 2 * math.ceil(edge / modules))  # about twice the pixels per module the frame gets
    img = cv2.aruco.generateImageMarker(dictionary, int(marker_id), modules * px)
    img = cv2.copyMakeBorder(img, px, px, px, px, cv2.BORDER_CONSTANT, value=255)
    a, b = px, px + modules * px  # the black square's edges in the padded image
    src = np.array([[a, a], [b, a], [b, b], [a, b]], np.float32) - 0.5
    H = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    x0, y0 = (int(max(0, math.floor(v - 2 * (hi - lo).max() / modules))) for v in lo)
    x1, y1 = (int(min(m, math.ceil(v + 2 * (hi - lo).max() / modules) + 1)) for v, m in zip(hi, (w, h)))
    if x1 <= x0 or y1 <= y0:
        return
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(img, shift @ H, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full(img.shape, 255, np.uint8), shift @ H, size, flags=cv2.INTER_LINEAR)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.round(patch * (1 - alpha) + warped.astype(np.float32)[..., None] * alpha).astype(np.uint8)
