"""Calibration targets as a camera sees them: chessboard views rendered through a camera model
(intrinsics and lens distortion), for testing camera calibration against known truth.

Each pixel's ray (undistorted through the camera model) meets the board's plane; the square it
lands in gives its shade. Rendered at ``supersample`` times the resolution and averaged down,
so edges are anti-aliased as a real sensor's are.
"""

from __future__ import annotations

import numpy as np

from ..array.camera import Camera


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation matrix from angles (radians) about x, then y, then z."""
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def board_view(camera: Camera, R: np.ndarray, t, board=(9, 6), square: float = 0.025,
               supersample: int = 2, background: int = 110) -> np.ndarray:
    """(height, width) uint8 grey image of a chessboard with ``board`` inner corners and squares
    of ``square`` m, posed in the camera frame by ``R`` (board axes) and ``t`` (its first inner
    corner, m); a white border one square wide surrounds the squares."""
    import cv2

    nx, ny = board
    s = supersample
    # sub-pixel sample positions in the camera's own pixel coordinates, undistorted to rays
    v, u = np.mgrid[0:camera.height * s, 0:camera.width * s].astype(np.float64)
    uv = np.stack([(u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5], axis=-1).reshape(-1, 1, 2)
    xy = cv2.undistortPoints(uv, camera.matrix, camera.distortion,
                             criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-10)).reshape(u.shape + (2,))
    d = np.concatenate([xy, np.ones(u.shape + (1,))], axis=-1)
    R = np.asarray(R, float)
    t = np.asarray(t, float)
    n = R[:, 2]
    lam = (n @ t) / (d @ n)
    P = d * lam[..., None] - t
    X, Y = P @ R[:, 0], P @ R[:, 1]
    qx, qy = np.floor(X / square), np.floor(Y / square)
    on_squares = (qx >= -1) & (qx <= nx - 1) & (qy >= -1) & (qy <= ny - 1)
    on_board = (qx >= -2) & (qx <= nx) & (qy >= -2) & (qy <= ny) & (lam > 0)
    img = np.full(X.shape, float(background))
    img[on_board] = 235.0
    black = on_squares & ((qx + qy) % 2 == 0)
    img[black] = 20.0
    img = img.reshape(camera.height, s, camera.width, s).mean(axis=(1, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def random_views(camera: Camera, n: int, seed: int, board=(9, 6), square: float = 0.025):
    """``n`` (R, t) poses that keep the whole board in view, tilted up to ~35 degrees, at 0.35-0.6 m,
    spread over the picture (its corners included, where distortion is strongest)."""
    rng = np.random.default_rng(seed)
    w, h = board[0] * square, board[1] * square
    out = []
    while len(out) < n:
        R = rotation(*rng.uniform(-0.6, 0.6, 2), rng.uniform(-0.3, 0.3))
        z = rng.uniform(0.35, 0.6)
        centre = np.array([rng.uniform(-0.3, 0.3) * z, rng.uniform(-0.22, 0.22) * z, z])
        t = centre - R @ np.array([w / 2, h / 2, 0.0])
        corners = np.array([t + R @ np.array([x, y, 0.0]) for x in (-square, w + square) for y in (-square, h + square)])
        if np.all(corners[:, 2] > 0.1):
            uv = camera.project(corners)[0]
            if np.all(camera.in_image(uv)):
                out.append((R, t))
    return out
