"""The calibration file (``acam-calibration``, JSON, version 1): what a rig's calibration found,
made once per rig (:mod:`acoustic_camera.calibration`) and applied to every session.

Schema (every block but the header optional)::

    {"acam_schema": "acam-calibration", "version": 1, "created": "2026-12-03T02:10:00Z",
     "sources": [{"path": "cal.h5", "time_data_sha256": "..."}],
     "camera": {"width": 640, "height": 480, "fx": .., "fy": .., "cx": .., "cy": ..,
        "distortion": [k1, k2, p1, p2, k3], "rms_px": .., "views_used": N,
        "views_rejected": [names], "board": [9, 6], "square_m": 0.025},
     "microphones": {
        "n_mics": 128, "freqs_hz": [F], "gain_re": [[F] x M], "gain_im": [[F] x M],
        "band_hz": [lo, hi], "source_position_m": [x, y, z],
        "faults": [{"mic": 5, "fault": "dead", "exclude": true, "detail": "..."}]}}

``camera``: intrinsics and OpenCV distortion (the pose stays the session's). ``sync``:
``{"av_offset_s", "events", "uncertainty_s", "distance_m"}``, how late the pictures come. ``pose``:
the camera's rotation (3 x 3) and ``translation_m`` relative to the array (``X_camera = R X_array
+ t``), with how registration found them (``rms_deg``, ``frames_used``, ...); applied, the look
grid's rays leave the camera's centre in its direction. ``gain`` is each
microphone's complex gain per bin relative to the array model (recorded =
gain x modelled): the beamformer divides the spectra by it. Bins outside ``band_hz`` hold the
nearest in-band value. A fault with ``exclude`` true takes the microphone out of the beamformer.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..catalog import FAULTS
from ..errors import FileFormatError
from .atomic import atomic_output

SCHEMA = "acam-calibration"
VERSION = 1


class CalibrationFormatError(FileFormatError):
    """A calibration file that does not follow the ``acam-calibration`` schema."""


@dataclass(frozen=True)
class Fault:
    mic: int
    fault: str  # one of acoustic_camera.catalog.FAULTS
    exclude: bool
    detail: str


@dataclass(frozen=True, eq=False)
class MicCalibration:
    freqs: np.ndarray  # (F,) Hz
    gains: np.ndarray  # (M, F) complex
    band: tuple[float, float]
    source_position: tuple[float, float, float]
    faults: tuple[Fault, ...] = ()

    @property
    def excluded(self) -> list[int]:
        return sorted({f.mic for f in self.faults if f.exclude})

    def gains_at(self, freqs: np.ndarray) -> np.ndarray:
        """(M, len(freqs)) complex gains at other bin frequencies: magnitude and unwrapped phase
        interpolated linearly, held constant past the ends."""
        f = np.asarray(freqs, float)
        mag = np.stack([np.interp(f, self.freqs, np.abs(g)) for g in self.gains])
        ph = np.stack([np.interp(f, self.freqs, np.unwrap(np.angle(g))) for g in self.gains])
        return mag * np.exp(1j * ph)


@dataclass(frozen=True)
class CameraCalibration:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...]  # k1, k2, p1, p2, k3
    rms_px: float
    views_used: int
    views_rejected: tuple[str, ...] = ()
    board: tuple[int, int] = (9, 6)
    square_m: float = 0.025

    def camera(self, pose_from=None):
        """An :class:`~acoustic_camera.array.camera.Camera` with these intrinsics, and the pose
        of ``pose_from`` (a Camera) if given."""
        from ..array.camera import Camera

        kw = {} if pose_from is None else {"rotation": pose_from.rotation, "translation": pose_from.translation}
        return Camera(width=self.width, height=self.height, fx=self.fx, fy=self.fy, cx=self.cx, cy=self.cy,
                      distortion=np.asarray(self.distortion), **kw)


@dataclass(frozen=True)
class SyncCalibration:
    av_offset_s: float  # how late the pictures are: frame k shows the audio time t_k - offset
    events: int
    uncertainty_s: float
    distance_m: float


@dataclass(frozen=True, eq=False)
class PoseCalibration:
    """The camera's pose relative to the array, ``X_camera = rotation @ X_array + translation``,
    as registration measured it (:mod:`acoustic_camera.calibration.registration`)."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,) m
    translation_estimated: bool  # False: the session's camera centre was kept
    rms_deg: float  # of the angles between acoustic and visual directions, over the frames used
    rotation_sd_deg: float  # 1-sigma, largest axis
    translation_sd_m: float | None
    frames_used: int
    frames_rejected: int
    marker_id: int
    marker_size_m: float | None
    band_hz: tuple[float, float]

    def __post_init__(self):
        for name in ("rotation", "translation"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def yaw_pitch_roll_deg(self) -> tuple[float, float, float]:
        from ..array.camera import ypr_from_rotation

        return ypr_from_rotation(self.rotation)

    @property
    def position(self) -> np.ndarray:
        """The camera's centre in the array frame, metres."""
        return -self.rotation.T @ self.translation


_POSE_KEYS = ("rotation", "translation_m", "translation_estimated", "rms_deg", "rotation_sd_deg", "translation_sd_m",
              "frames_used", "frames_rejected", "marker_id", "marker_size_m", "band_hz")

_CAMERA_KEYS = ("width", "height", "fx", "fy", "cx", "cy", "distortion", "rms_px", "views_used", "views_rejected",
                "board", "square_m")


@dataclass(frozen=True, eq=False)
class Calibration:
    microphones: MicCalibration | None = None
    camera: CameraCalibration | None = None
    sync: SyncCalibration | None = None
    pose: PoseCalibration | None = None
    sources: tuple[dict, ...] = ()
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    sha256: str = ""  # of the file it was read from


def write_calibration(path, cal: Calibration, overwrite: bool = False) -> Path:
    """Write ``cal`` atomically (a partial file never appears under ``path``)."""
    doc = {"acam_schema": SCHEMA, "version": VERSION, "created": cal.created, "sources": list(cal.sources)}
    if cal.sync is not None:
        doc["sync"] = {"av_offset_s": cal.sync.av_offset_s, "events": cal.sync.events,
                       "uncertainty_s": cal.sync.uncertainty_s, "distance_m": cal.sync.distance_m}
    if cal.camera is not None:
        c = cal.camera
        doc["camera"] = {k: (list(getattr(c, k)) if isinstance(getattr(c, k), tuple) else getattr(c, k)) for k in _CAMERA_KEYS}
    if cal.pose is not None:
        p = cal.pose
        doc["pose"] = {
            "rotation": np.round(p.rotation, 12).tolist(), "translation_m": np.round(p.translation, 9).tolist(),
            "translation_estimated": bool(p.translation_estimated), "rms_deg": p.rms_deg,
            "rotation_sd_deg": p.rotation_sd_deg, "translation_sd_m": p.translation_sd_m,
            "frames_used": p.frames_used, "frames_rejected": p.frames_rejected, "marker_id": p.marker_id,
            "marker_size_m": p.marker_size_m, "band_hz": list(p.band_hz),
            # for people reading the file; the reader takes the rotation and translation
            "yaw_pitch_roll_deg": [round(v, 4) for v in p.yaw_pitch_roll_deg],
            "position_m": np.round(p.position, 5).tolist()}
    m = cal.microphones
    if m is not None:
        doc["microphones"] = {
            "n_mics": int(m.gains.shape[0]), "freqs_hz": np.asarray(m.freqs, float).tolist(),
            "gain_re": np.round(m.gains.real, 7).tolist(), "gain_im": np.round(m.gains.imag, 7).tolist(),
            "band_hz": [float(m.band[0]), float(m.band[1])], "source_position_m": [float(v) for v in m.source_position],
            "faults": [{"mic": f.mic, "fault": f.fault, "exclude": f.exclude, "detail": f.detail} for f in m.faults]}
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return Path(path)


def load_calibration(path) -> Calibration:
    """Read and validate a calibration file; raises :class:`CalibrationFormatError` naming the
    file, the field, what was expected and what was found."""
    path = Path(path)
    E = CalibrationFormatError
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise E(path, "file", "a readable acam calibration file (.json)", exc.strerror or str(exc)) from None
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise E(path, "file", "JSON", f"not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or doc.get("acam_schema") != SCHEMA:
        found = doc.get("acam_schema") if isinstance(doc, dict) else type(doc).__name__
        raise E(path, "acam_schema", f"'{SCHEMA}'", repr(found))
    if doc.get("version") != VERSION:
        raise E(path, "version", str(VERSION), repr(doc.get("version")))
    mics = None
    if doc.get("microphones") is not None:
        d = doc["microphones"]
        try:
            freqs = np.asarray(d["freqs_hz"], float)
            re, im = np.asarray(d["gain_re"], float), np.asarray(d["gain_im"], float)
            n = int(d["n_mics"])
            band = tuple(float(v) for v in d["band_hz"])
            pos = tuple(float(v) for v in d["source_position_m"])
            faults = tuple(Fault(int(f["mic"]), str(f["fault"]), bool(f["exclude"]), str(f["detail"])) for f in d["faults"])
        except (KeyError, TypeError, ValueError) as exc:
            raise E(path, "microphones", "n_mics, freqs_hz, gain_re, gain_im, band_hz, source_position_m and faults",
                    f"a missing or malformed {exc}") from None
        if freqs.ndim != 1 or re.shape != (n, freqs.size) or im.shape != re.shape:
            raise E(path, "microphones/gain_re, gain_im", f"({n}, {freqs.size}) numbers each", f"{re.shape} and {im.shape}")
        gains = re + 1j * im
        if not np.all(np.isfinite(gains)) or np.any(np.abs(gains) == 0):
            raise E(path, "microphones/gain_re, gain_im", "finite, non-zero gains", "zero or non-finite values")
        if any(f.fault not in FAULTS for f in faults):
            raise E(path, "microphones/faults", f"faults among {', '.join(FAULTS)}", str(sorted({f.fault for f in faults})))
        if any(not 0 <= f.mic < n for f in faults):
            raise E(path, "microphones/faults", f"microphones 0..{n - 1}", str([f.mic for f in faults]))
        mics = MicCalibration(freqs, gains, band, pos, faults)
    camera = None
    if doc.get("camera") is not None:
        d = doc["camera"]
        try:
            camera = CameraCalibration(
                width=int(d["width"]), height=int(d["height"]), fx=float(d["fx"]), fy=float(d["fy"]), cx=float(d["cx"]),
                cy=float(d["cy"]), distortion=tuple(float(x) for x in d["distortion"]), rms_px=float(d["rms_px"]),
                views_used=int(d["views_used"]), views_rejected=tuple(str(x) for x in d["views_rejected"]),
                board=tuple(int(x) for x in d["board"]), square_m=float(d["square_m"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise E(path, "camera", ", ".join(_CAMERA_KEYS), f"a missing or malformed {exc}") from None
        if len(camera.distortion) != 5 or camera.fx <= 0 or camera.fy <= 0 or camera.width <= 0 or camera.height <= 0:
            raise E(path, "camera", "positive size and focal lengths and 5 distortion coefficients",
                    f"{camera.width}x{camera.height}, fx {camera.fx}, fy {camera.fy}, {len(camera.distortion)} coefficients")
    sync = None
    if doc.get("sync") is not None:
        d = doc["sync"]
        try:
            sync = SyncCalibration(float(d["av_offset_s"]), int(d["events"]), float(d["uncertainty_s"]), float(d["distance_m"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise E(path, "sync", "av_offset_s, events, uncertainty_s and distance_m", f"a missing or malformed {exc}") from None
        if not np.isfinite(sync.av_offset_s) or abs(sync.av_offset_s) > 5:
            raise E(path, "sync/av_offset_s", "an offset within +-5 s", f"{sync.av_offset_s}")
    pose = None
    if doc.get("pose") is not None:
        d = doc["pose"]
        try:
            size = d["marker_size_m"]
            sd_t = d["translation_sd_m"]
            pose = PoseCalibration(
                rotation=np.asarray(d["rotation"], float), translation=np.asarray(d["translation_m"], float).ravel(),
                translation_estimated=bool(d["translation_estimated"]), rms_deg=float(d["rms_deg"]),
                rotation_sd_deg=float(d["rotation_sd_deg"]), translation_sd_m=None if sd_t is None else float(sd_t),
                frames_used=int(d["frames_used"]), frames_rejected=int(d["frames_rejected"]), marker_id=int(d["marker_id"]),
                marker_size_m=None if size is None else float(size), band_hz=tuple(float(v) for v in d["band_hz"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise E(path, "pose", ", ".join(_POSE_KEYS), f"a missing or malformed {exc}") from None
        R = pose.rotation
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise E(path, "pose/rotation", "a proper 3x3 rotation matrix", f"shape {R.shape}" if R.shape != (3, 3) else "a matrix that is not one")
        if pose.translation.shape != (3,) or not np.all(np.isfinite(pose.translation)):
            raise E(path, "pose/translation_m", "3 finite numbers", str(d["translation_m"]))
    return Calibration(mics, camera, sync, pose, tuple(doc.get("sources", ())), str(doc.get("created", "")),
                       hashlib.sha256(raw).hexdigest())
