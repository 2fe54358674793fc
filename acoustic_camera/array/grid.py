"""Look points of the acoustic image: one per block of video pixels, aligned with the picture.

The default grid is 36 x 48 (rows x columns) over a 640 x 480 picture: each acoustic pixel
covers 640/48 x 480/36 = 13.3 x 13.3 video pixels. Cell (i, j) looks through the centre of its
pixel block, ``u = (j + 0.5) W / cols - 0.5``, ``v = (i + 0.5) H / rows - 0.5`` (OpenCV pixel
centres at integers), back-projected through the camera model either onto the focus plane at
depth ``focus_distance`` (metres along the optical axis) or, with ``focus_distance=None``, to
directions at infinity (far field).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import FOCUS_DISTANCE, GRID_SHAPE
from ..errors import AcamError
from .camera import Camera


@dataclass(frozen=True, eq=False)
class LookGrid:
    """Rows x cols look points. ``points`` (rows, cols, 3) in the array frame (near field), or
    ``directions`` (rows, cols, 3) unit vectors from the camera (far field, points is None)."""

    rows: int
    cols: int
    pixels: np.ndarray  # (rows, cols, 2) centre pixel (u, v) of each cell
    rects: np.ndarray  # (rows, cols, 4) cell rectangle u0, v0, u1, v1 in pixel-edge coordinates
    directions: np.ndarray  # (rows, cols, 3)
    points: np.ndarray | None
    focus_distance: float | None

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def n_points(self) -> int:
        return self.rows * self.cols

    def cell_of_pixel(self, uv) -> tuple[int, int]:
        """(row, col) of the cell containing video pixel (u, v)."""
        u, v = uv
        r0, c0, r1, c1 = self.rects[0, 0, 1], self.rects[0, 0, 0], self.rects[-1, -1, 3], self.rects[-1, -1, 2]
        col = int(np.clip(np.floor((u - c0) / (c1 - c0) * self.cols), 0, self.cols - 1))
        row = int(np.clip(np.floor((v - r0) / (r1 - r0) * self.rows), 0, self.rows - 1))
        return row, col


def parse_grid(text: str, name: str = "--grid") -> tuple[int, int]:
    """'36x48' -> (36, 48) (rows x columns), within :func:`acoustic_camera.options.grid`'s limits."""
    from ..options import grid

    return grid(text, name)


def make_grid(camera: Camera, shape: tuple[int, int] = GRID_SHAPE,
              focus_distance: float | None = FOCUS_DISTANCE) -> LookGrid:
    rows, cols = shape
    if focus_distance is not None and focus_distance <= 0:
        raise AcamError(f"focus distance must be positive (metres) or None for far field, got {focus_distance}")
    bw, bh = camera.width / cols, camera.height / rows
    u = (np.arange(cols) + 0.5) * bw - 0.5
    v = (np.arange(rows) + 0.5) * bh - 0.5
    uu, vv = np.meshgrid(u, v)
    pix = np.stack([uu, vv], -1)
    j, i = np.meshgrid(np.arange(cols), np.arange(rows))
    rects = np.stack([j * bw - 0.5, i * bh - 0.5, (j + 1) * bw - 0.5, (i + 1) * bh - 0.5], -1)
    _, d = camera.rays(pix)
    pts = camera.backproject(pix, focus_distance) if focus_distance is not None else None
    return LookGrid(rows, cols, pix, rects, d, pts, focus_distance)
