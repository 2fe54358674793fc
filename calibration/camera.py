"""Camera intrinsics and lens distortion from chessboard views (OpenCV's calibration).

Corners are found per view (``findChessboardCorners``), refined to sub-pixel accuracy
(``cornerSubPix``), and the views go to ``calibrateCamera`` with the five-coefficient model
(k1, k2, p1, p2 and k3, which is held at 0: a consumer lens' field of view does not need it and
fitting it unconstrained trades accuracy in the centre for the corners). A view whose own
reprojection error is far above the others' (three times their median, and over 0.5 px) is
rejected as an outlier, and the rest are calibrated again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import AcamError
from ..io.calibration import CameraCalibration

MIN_VIEWS = 4
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


@dataclass(frozen=True)
class View:
    name: str
    image: np.ndarray  # (H, W) uint8 grey


def load_views(paths, every: int = 12) -> list[View]:
    """Grey images from image files, or every ``every``-th frame of video files."""
    import cv2

    views = []
    for p in map(Path, paths):
        if p.suffix.lower() in VIDEO_SUFFIXES:
            cap = cv2.VideoCapture(str(p))
            if not cap.isOpened():
                raise AcamError(f"{p}: expected a readable video file, found none OpenCV can open")
            k = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if k % every == 0:
                    views.append(View(f"{p.name}#{k}", cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
                k += 1
            cap.release()
        else:
            img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise AcamError(f"{p}: expected an image file (PNG, JPEG, ...), found none OpenCV can read")
            views.append(View(p.name, img))
    if not views:
        raise AcamError("IMAGES: expected image or video files, found none")
    return views


def find_corners(image: np.ndarray, board) -> np.ndarray | None:
    """(N, 1, 2) float32 inner corners, sub-pixel, or None where the board is not found."""
    import cv2

    ok, corners = cv2.findChessboardCorners(image, tuple(board), cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
    if not ok:
        return None
    refined = cv2.cornerSubPix(image, corners, (5, 5), (-1, -1), (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4))
    return np.asarray(refined, np.float32).reshape(-1, 1, 2)


def calibrate_camera(views: list[View], board=(9, 6), square: float = 0.025,
                     progress: Callable[[int, int], None] | None = None) -> CameraCalibration:
    """Intrinsics and distortion from chessboard views with ``board`` inner corners (columns,
    rows) and squares of ``square`` metres."""
    import cv2

    nx, ny = board
    if nx < 2 or ny < 2 or square <= 0:
        raise AcamError(f"--board {nx}x{ny} --square {square}: expected at least 2x2 inner corners and a positive size")
    shapes = {v.image.shape for v in views}
    if len(shapes) > 1:
        raise AcamError(f"IMAGES: expected views of one size, found {sorted(shapes)}")
    h, w = views[0].image.shape
    obj = np.zeros((nx * ny, 3), np.float32)
    obj[:, :2] = np.mgrid[0:nx, 0:ny].T.reshape(-1, 2) * square
    found = []
    for i, v in enumerate(views):
        c = find_corners(v.image, board)
        if c is not None:
            found.append((v.name, c))
        if progress:
            progress(i + 1, len(views))
    if not found:
        raise AcamError(f"IMAGES: expected a {nx}x{ny} chessboard (inner corners) in the views, found it in none of "
                        f"{len(views)}")
    if len(found) < MIN_VIEWS:
        raise AcamError(f"IMAGES: expected the {nx}x{ny} chessboard in at least {MIN_VIEWS} views, found it in "
                        f"{len(found)} of {len(views)}")
    flags = cv2.CALIB_FIX_K3

    def run(items):
        rms, K, dist, rv, tv = cv2.calibrateCamera([obj] * len(items), [c for _, c in items], (w, h), None, None, flags=flags)
        errs = []
        for (_, c), r, t in zip(items, rv, tv):
            proj, _ = cv2.projectPoints(obj, r, t, K, dist)
            errs.append(float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - c.reshape(-1, 2)) ** 2, axis=-1)))))
        return rms, K, dist.ravel(), np.array(errs)

    rms, K, dist, errs = run(found)
    bad = errs > max(3 * np.median(errs), 0.5)
    rejected = [name for (name, _), b in zip(found, bad) if b]
    if rejected and len(found) - len(rejected) >= MIN_VIEWS:
        found = [f for f, b in zip(found, bad) if not b]
        rms, K, dist, errs = run(found)
    else:
        rejected = []
    return CameraCalibration(width=int(w), height=int(h), fx=float(K[0, 0]), fy=float(K[1, 1]), cx=float(K[0, 2]),
                             cy=float(K[1, 2]), distortion=tuple(float(x) for x in np.r_[dist, np.zeros(5)][:5]),
                             rms_px=float(rms), views_used=len(found), views_rejected=tuple(rejected),
                             board=(int(nx), int(ny)), square_m=float(square))
