"""Registration: where the camera sits and points relative to the array.

From a recording in which a sound source that carries an ArUco marker moves across the view:

- **in the picture**, the marker (OpenCV's ArUco detector) gives the source's pixel: the
  intersection of the diagonals of its four corners. Its ray in the camera frame follows from the
  intrinsics (the calibration's, else the session's). With the marker's side known, OpenCV's
  ``solvePnP`` (IPPE for squares) also gives its distance: a point in the camera frame;
- **in the sound**, the beamformer's band-energy map of the same frame (its window centred on
  the audio time the picture shows, when an audio-video offset is calibrated) peaks at the
  source: a parabola through the peak and its neighbours, in dB, along rows and columns places
  it between cells, and the direction from the array's centre (the mean of its working
  microphones) to the look point there is the source's direction. Seen from the centre, a
  source off the focus distance peaks in its own direction; seen from the frame's origin (8 mm
  away on the DualCam) it would not: 0.05-0.1 degree, enough to bend a 3 cm translation by 1 cm;
- sound is late: the array hears at time t what the source emitted at t - r/c, 9-15 ms earlier
  at 3-5 m, when a walking source was 1-2 cm (0.2-0.3 degree) away from where the picture shows
  it. So the marker's track is interpolated to each frame's emission time before the fit
  (measured on the simulator: it takes the angle's scatter from 0.16 to 0.03 degree);
- the pose (R, t) with ``X_camera = R X_array + t`` is fitted to minimise the angle between
  each acoustic direction and the direction of the marker's point taken into the array frame,
  ``R^T (q - t)``, with a soft-L1 loss, and frames whose angle is over four robust standard
  deviations (and over 0.1 degree) are dropped and the fit repeated. Translation is fitted only
  when the points' distances are known (``marker_size``); otherwise the camera's centre stays the
  session's and the points are taken at ``depth``.

The look directions do not depend on the pose the beamformer used (the grid's points are in the
array frame), so a session can be re-registered with any calibration applied.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from ..array.camera import Camera
from ..beamform.pipeline import apply_calibration, beamform_session
from ..constants import FOCUS_DISTANCE, MARKER_DICTIONARY, SPEED_OF_SOUND
from ..errors import AcamError
from ..io.acoustic import open_acoustic
from ..io.calibration import Calibration, PoseCalibration, load_calibration
from ..io.session import open_session

BAND = (2000.0, 5500.0)  # Hz: narrow main lobes, for a loudspeaker's noise
MIN_FRAMES = 8
MIN_SPREAD = 0.25  # of the picture's width and height together: a source that moves across the view
OUTLIER_SIGMAS = 4.0
MIN_OUTLIER_DEG = 0.1


@dataclass(frozen=True)
class MarkerTrack:
    frames: np.ndarray  # (N,) frame indices where the marker was found
    pixels: np.ndarray  # (N, 2) marker centres, video pixels
    points: np.ndarray | None  # (N, 3) marker centres in the camera frame (m), when its size is known

    def at_emission(self, times: np.ndarray, delays: np.ndarray) -> "MarkerTrack":
        """The track at ``times - delays`` (one per frame found): each frame's pixel and point
        interpolated linearly between the neighbouring frames where the marker was also found
        (within two frame periods); a frame without such neighbours keeps its own."""
        t = np.asarray(times, dtype=np.float64)
        want = t - np.asarray(delays, dtype=np.float64)
        period = float(np.median(np.diff(t))) if t.size > 1 else np.inf
        i = np.clip(np.searchsorted(t, want), 1, max(t.size - 1, 1))
        ok = (t.size > 1) & (t[i] - t[i - 1] <= 2 * period)
        w = np.where(ok, (want - t[i - 1]) / np.where(ok, t[i] - t[i - 1], 1.0), 0.0)[:, None]

        def lerp(x):
            if x is None:
                return None
            y = (1 - w) * x[i - 1] + w * x[i]
            return np.where(ok[:, None], y, x)

        return MarkerTrack(self.frames, lerp(self.pixels), lerp(self.points))


def find_markers(session, camera: Camera, marker_id: int = 0, marker_size: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> MarkerTrack:
    """The marker's centre in every frame of an open session where it is found."""
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER_DICTIONARY))
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.ArucoDetector(dictionary, params)
    h = (marker_size or 1.0) / 2
    square = np.array([[-h, h, 0], [h, h, 0], [h, -h, 0], [-h, -h, 0]], np.float64)  # IPPE_SQUARE's order
    frames, pixels, points = [], [], []
    n = session.n_frames
    for k in range(n):
        grey = cv2.cvtColor(session.frame(k), cv2.COLOR_RGB2GRAY)
        corners, ids, _ = detector.detectMarkers(grey)
        if progress:
            progress(k + 1, n)
        if ids is None or int(np.sum(ids.ravel() == marker_id)) != 1:
            continue
        c = corners[int(np.flatnonzero(ids.ravel() == marker_id)[0])].reshape(4, 2).astype(np.float64)
        frames.append(k)
        pixels.append(_diagonals_meet(c))
        if marker_size:
            ok, _, tvec = cv2.solvePnP(square, c, camera.matrix, camera.distortion, flags=cv2.SOLVEPNP_IPPE_SQUARE)
            points.append(tvec.ravel() if ok else np.full(3, np.nan))
    return MarkerTrack(np.asarray(frames, int), np.asarray(pixels, float).reshape(-1, 2),
                       np.asarray(points, float).reshape(-1, 3) if marker_size else None)


def _diagonals_meet(c: np.ndarray) -> np.ndarray:
    """Where the diagonals of a quadrilateral (4, 2) cross: the image of a square's centre."""
    p, r = c[0], c[2] - c[0]
    q, s = c[1], c[3] - c[1]
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-12:
        return c.mean(axis=0)
    u = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / den
    return p + u * r


def subcell_peaks(energy_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (row, col) of each map's peak (N, 2), NaN where the peak lies on the map's edge,
    and the peak's height over the map's median (dB)."""
    e = np.asarray(energy_db, dtype=np.float64)
    n, rows, cols = e.shape
    flat = e.reshape(n, -1).argmax(axis=1)
    r, c = np.divmod(flat, cols)
    out = np.full((n, 2), np.nan)
    inner = (r > 0) & (r < rows - 1) & (c > 0) & (c < cols - 1)
    k, ri, ci = np.flatnonzero(inner), r[inner], c[inner]

    def vertex(lo, mid, hi):
        den = lo - 2 * mid + hi
        return np.where(den < 0, 0.5 * (lo - hi) / np.where(den < 0, den, -1.0), 0.0)

    out[k, 0] = ri + vertex(e[k, ri - 1, ci], e[k, ri, ci], e[k, ri + 1, ci])
    out[k, 1] = ci + vertex(e[k, ri, ci - 1], e[k, ri, ci], e[k, ri, ci + 1])
    prominence = e.reshape(n, -1).max(axis=1) - np.median(e.reshape(n, -1), axis=1)
    return out, prominence


def grid_directions(grid, rc: np.ndarray, centre=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Unit array-frame directions (N, 3) from ``centre`` to the look points at fractional
    (row, col) ``rc`` (N, 2), bilinear between the grid's points (far field: its directions)."""
    field = grid.points - np.asarray(centre, dtype=np.float64) if grid.points is not None else grid.directions
    r, c = rc[:, 0], rc[:, 1]
    r0 = np.clip(np.floor(r).astype(int), 0, grid.rows - 2)
    c0 = np.clip(np.floor(c).astype(int), 0, grid.cols - 2)
    fr, fc = (r - r0)[:, None], (c - c0)[:, None]
    p = ((1 - fr) * (1 - fc) * field[r0, c0] + (1 - fr) * fc * field[r0, c0 + 1]
         + fr * (1 - fc) * field[r0 + 1, c0] + fr * fc * field[r0 + 1, c0 + 1])
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def _angles(R: np.ndarray, position: np.ndarray, a: np.ndarray, q: np.ndarray, centre: np.ndarray) -> np.ndarray:
    d = q @ R + position - centre  # the points in the array frame (R^T q + camera centre), from its centre
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return np.arccos(np.clip(np.sum(d * a, axis=1), -1, 1))


def fit_pose(a: np.ndarray, q: np.ndarray, position0, estimate_position: bool,
             centre=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The camera's rotation R (``X_cam = R X_array + t``) and centre (array frame, metres) that
    take the camera-frame points ``q`` (N, 3) onto the array-frame directions ``a`` (N, 3) seen
    from ``centre``; the centre stays ``position0`` unless ``estimate_position``. Returns (R,
    camera centre, inlier mask, stats: RMS angle and 1-sigma uncertainties from the fit's
    Jacobian)."""
    p0 = np.asarray(position0, dtype=np.float64)
    centre = np.asarray(centre, dtype=np.float64)
    keep = np.ones(len(a), bool)
    # a start from the directions alone (Wahba's problem): the points' directions b = R a
    b = q + (p0 - centre) @ np.eye(3)  # camera and array axes nearly agree: a first guess
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    rot0, _ = Rotation.align_vectors(b, a)
    x = np.r_[rot0.as_rotvec(), p0 if estimate_position else []]

    def unpack(x):
        return Rotation.from_rotvec(x[:3]).as_matrix(), (x[3:] if estimate_position else p0)

    def residuals(x, a, q):
        R, p = unpack(x)
        d = q @ R + p - centre
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return (d - a).ravel()  # chordal: the angle, for small angles

    scale = np.radians(0.2)
    for _ in range(5):
        sol = least_squares(residuals, x, args=(a[keep], q[keep]), loss="soft_l1", f_scale=scale)
        x = sol.x
        ang = _angles(*unpack(x), a, q, centre)
        sigma = 1.4826 * np.median(ang[keep])
        new = ang <= max(OUTLIER_SIGMAS * sigma, np.radians(MIN_OUTLIER_DEG))
        if np.array_equal(new, keep) or new.sum() < MIN_FRAMES:
            break
        keep = new
    sol = least_squares(residuals, x, args=(a[keep], q[keep]))  # plain least squares on the inliers
    R, p = unpack(sol.x)
    ang = _angles(R, p, a, q, centre)
    dof = max(2 * int(keep.sum()) - sol.x.size, 1)
    s2 = float(np.sum(sol.fun**2)) / dof
    try:
        sd = np.sqrt(np.clip(np.diag(np.linalg.inv(sol.jac.T @ sol.jac) * s2), 0, None))
    except np.linalg.LinAlgError:
        sd = np.full(sol.x.size, np.nan)
    stats = {"rms_deg": float(np.degrees(np.sqrt(np.mean(ang[keep] ** 2)))),
             "rotation_sd_deg": float(np.degrees(np.max(sd[:3]))),
             "translation_sd_m": float(np.max(sd[3:])) if estimate_position else None}
    return R, p, keep, stats


def register(session_path, *, marker_id: int = 0, marker_size: float | None = None, depth: float = FOCUS_DISTANCE,
             camera_position=None, band=BAND, calibration=None, min_prominence_db: float = 3.0,
             progress: Callable[[str, int, int], None] | None = None, **beamformer_kw) -> Calibration:
    """A :class:`Calibration` holding the camera's pose measured from ``session_path``.

    Args:
        marker_id: the ArUco marker the source carries.
        marker_size: its side (metres, the black square); known, the marker's distance is measured
            and the camera's translation is fitted too.
        depth: without ``marker_size``, metres to the source along the optical axis (only the
            small parallax of the camera's offset depends on it).
        camera_position: the camera's centre in the array frame (metres), kept as it is without
            ``marker_size`` and the fit's start with it; default the session's.
        band: (lo, hi) Hz of the energy maps the directions come from.
        calibration: a calibration file or object whose microphones, intrinsics and audio-video
            offset are applied while measuring (its pose, if any, is not used).
        progress: called as ``progress(stage, done, total)``.
    """
    cal = None
    if calibration is not None:
        cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    with open_session(session_path) as s:
        kw = dict(beamformer_kw)
        # intrinsics from the calibration; the centre the session's (the pose is what we measure)
        geometry, nominal = apply_calibration(cal, s, kw)[:2] if cal is not None else (s.geometry, s.camera)
        centre = geometry.positions[geometry.good].mean(axis=0)
        position0 = s.camera.position if camera_position is None else np.asarray(camera_position, dtype=np.float64)
        track = find_markers(s, nominal, marker_id, marker_size,
                             progress=(lambda d, t: progress("markers", d, t)) if progress else None)
        sha, path, n_frames = s.time_data_sha256(), s.path, s.n_frames
        frame_time = s.frame_sample_index / s.sample_freq
    if track.frames.size < MIN_FRAMES:
        raise AcamError(f"{path}: expected ArUco marker {marker_id} ({MARKER_DICTIONARY}) in at least {MIN_FRAMES} "
                        f"frames, found it in {track.frames.size} of {n_frames}")
    with tempfile.TemporaryDirectory(prefix="acam-register-") as tmp:
        out = Path(tmp) / "maps.acoustic.h5"
        beamform_session(session_path, out, features=("energy",), band=band, calibration=cal,
                         progress=(lambda d, t: progress("acoustic maps", d, t)) if progress else None, **beamformer_kw)
        with open_acoustic(out) as ac:
            energy = ac.energy_db[:][track.frames]
            grid = ac.grid
    ranges = np.linalg.norm(track.points, axis=1) if track.points is not None else np.full(track.frames.size, depth)
    track = track.at_emission(frame_time[track.frames], np.nan_to_num(ranges, nan=depth) / SPEED_OF_SOUND)
    rc, prominence = subcell_peaks(energy)
    ok = np.all(np.isfinite(rc), axis=1) & (prominence >= min_prominence_db)
    if track.points is not None:
        ok &= np.all(np.isfinite(track.points), axis=1)
    if ok.sum() < MIN_FRAMES:
        raise AcamError(f"{path}: expected at least {MIN_FRAMES} frames where the marker is seen and the sound's peak "
                        f"stands {min_prominence_db:g} dB over its map inside the picture, found {int(ok.sum())}")
    pix = track.pixels[ok]
    spread = np.ptp(pix[:, 0]) / nominal.width + np.ptp(pix[:, 1]) / nominal.height
    if spread < MIN_SPREAD:
        raise AcamError(f"{path}: expected the source to move across the view (its pixels spanning {MIN_SPREAD:.0%} of the "
                        f"picture's width and height together), found {spread:.0%}")
    a = grid_directions(grid, rc[ok], centre)
    if track.points is not None:
        q = track.points[ok]
    else:
        _, rays = Camera(width=nominal.width, height=nominal.height, fx=nominal.fx, fy=nominal.fy, cx=nominal.cx,
                         cy=nominal.cy, distortion=nominal.distortion).rays(pix)  # camera-frame rays
        q = rays * (depth / rays[:, 2:3])
    R, position, keep, stats = fit_pose(a, q, position0, track.points is not None, centre)
    pose = PoseCalibration(
        rotation=R, translation=-R @ position, translation_estimated=track.points is not None, rms_deg=stats["rms_deg"],
        rotation_sd_deg=stats["rotation_sd_deg"], translation_sd_m=stats["translation_sd_m"],
        frames_used=int(keep.sum()), frames_rejected=int((~keep).sum()) + int((~ok).sum()),
        marker_id=int(marker_id), marker_size_m=marker_size, band_hz=(float(band[0]), float(band[1])))
    return Calibration(pose=pose, sources=({"path": str(session_path), "time_data_sha256": sha},))


def locate_marker_source(session_path, calibration, *, marker_id: int = 0, marker_size: float,
                         progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, float]:
    """Where a static source that carries an ArUco marker of ``marker_size`` metres is, in the
    array frame: the median of its per-frame positions from OpenCV's ``solvePnP`` through the
    calibration's intrinsics (else the session's), taken into the array frame by the calibration's
    registered pose. Returns (position (3,), the positions' robust spread in metres)."""
    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    if cal.pose is None:
        raise AcamError(f"{getattr(calibration, 'name', 'calibration')}: expected a registered camera pose "
                        "(acam calibrate register) to place the marker in the array frame, found none")
    with open_session(session_path) as s:
        camera = cal.camera.camera(pose_from=s.camera) if cal.camera is not None else s.camera
        track = find_markers(s, camera, marker_id, marker_size, progress=progress)
        path, n = s.path, s.n_frames
    q = track.points[np.all(np.isfinite(track.points), axis=1)] if track.points is not None else np.zeros((0, 3))
    if len(q) < 3:
        raise AcamError(f"{path}: expected ArUco marker {marker_id} ({MARKER_DICTIONARY}) on the source in at least 3 "
                        f"frames, found it in {len(q)} of {n}")
    p = (q - cal.pose.translation) @ cal.pose.rotation  # camera frame -> array frame
    centre = np.median(p, axis=0)
    spread = float(1.4826 * np.median(np.linalg.norm(p - centre, axis=1)))
    return centre, spread
