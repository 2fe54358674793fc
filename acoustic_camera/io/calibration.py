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
import math
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..array.camera import DISTORTION, FOCAL_PX, IMAGE_SIDE  # the Camera's own limits
from ..catalog import FAULTS
from ..errors import AcamError, FileFormatError
from ..options import CHANNELS, COORDINATE, FREQUENCY, MARKER_ID, MAX_DIGITS, MAX_METRES, SIDE_METRES, Count, Real
from ..options import huge_int as _huge
from ..options import shown as _shown
from .atomic import atomic_output
from .jsonfile import MAX_JSON_BYTES

SCHEMA = "acam-calibration"
VERSION = 1

# -- what a calibration file may hold (the reader refuses anything else in one line, and the
# writer refuses to write what the reader would refuse) -----------------------------------------
MAX_FILE_BYTES = MAX_JSON_BYTES
"""Largest calibration file read or written (64 MB, as any JSON acam reads): 128 microphones x 512
bins take about 2 MB; a larger file is refused before it is read."""
GAIN_MIN, GAIN_MAX = 1e-3, 1e3
"""A microphone's gain magnitude relative to the array model, |g|, within +-60 dB: the
calibration normalises the array's median gain to 1, and a capsule 60 dB off is dead (its fault
says so, and its stored gain is 1)."""
GAIN_PART = Real(-GAIN_MAX, GAIN_MAX)
"""Each of a gain's real and imaginary parts."""
N_MICS = Count(1, CHANNELS.hi, "microphones")
RMS_PX = Real(0.0, 1e5, unit="px")
VIEWS = Count(0, 10**6, "views")
BOARD_CORNERS = Count(2, 1000, "inner corners")
AV_OFFSET = Real(-5.0, 5.0, unit="s")
"""How late the pictures come: camera pipelines lag by well under a second; 5 s is past any."""
UNCERTAINTY_S = Real(0.0, 5.0, unit="s")
EVENTS = Count(0, 10**9, "events")
DISTANCE_M = Real(0.0, MAX_METRES, lo_open=True, unit="m")
ANGLE_RMS_DEG = Real(0.0, 180.0, unit="degrees")
SPREAD = Real(0.0, 1e6)
"""A fit's standard deviation (degrees or metres): finite and non-negative."""
FRAMES = Count(0, 2**31 - 1, "frames")
MAX_TEXT = 10_000
"""Longest text field (a fault's detail, a view's name, ``created``)."""


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

    def check_session(self, n_mics: int, width: int, height: int, duration_s: float, name: str = "--calibration") -> None:
        """Refuse, in one line, applying this calibration to a session it cannot belong to:
        gains for another number of microphones, intrinsics of another picture size, or an
        audio-video offset as long as the recording (every picture would show sound from outside
        it)."""
        m, c, y = self.microphones, self.camera, self.sync
        if m is not None and m.gains.shape[0] != n_mics:
            raise AcamError(f"{name}: microphones/n_mics: expected gains for the session's {n_mics} microphones, "
                            f"found {m.gains.shape[0]}")
        if c is not None and (c.width, c.height) != (width, height):
            raise AcamError(f"{name}: camera: expected a camera of the session's {width}x{height} pixels, "
                            f"found {c.width}x{c.height}")
        if y is not None and abs(y.av_offset_s) >= duration_s:
            raise AcamError(f"{name}: sync/av_offset_s: expected an offset shorter than the session's {duration_s:g} s, "
                            f"found {y.av_offset_s:g} s")


def write_calibration(path, cal: Calibration, overwrite: bool = False) -> Path:
    """Write ``cal`` atomically (a partial file never appears under ``path``). A calibration
    the reader would refuse (a NaN, a gain out of range, a camera no camera has) is refused here,
    in one line naming the field, and nothing is written."""
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
            "marker_size_m": p.marker_size_m, "band_hz": list(p.band_hz)}
    m = cal.microphones
    if m is not None:
        gains = np.asarray(m.gains)
        doc["microphones"] = {
            "n_mics": int(gains.shape[0]) if gains.ndim else 0, "freqs_hz": np.asarray(m.freqs, float).tolist(),
            "gain_re": np.round(gains.real, 7).tolist(), "gain_im": np.round(gains.imag, 7).tolist(),
            "band_hz": list(m.band), "source_position_m": list(m.source_position),
            "faults": [{"mic": f.mic, "fault": f.fault, "exclude": f.exclude, "detail": f.detail} for f in m.faults]}
    checked = _from_doc(doc, path, "")  # the reader's own checks
    if checked.pose is not None:  # for people reading the file; the reader takes the rotation and translation
        doc["pose"]["yaw_pitch_roll_deg"] = [round(v, 4) for v in checked.pose.yaw_pitch_roll_deg]
        doc["pose"]["position_m"] = np.round(checked.pose.position, 5).tolist()
    try:
        text = json.dumps(doc, indent=1, allow_nan=False, default=_plain)
    except (TypeError, ValueError) as exc:
        raise CalibrationFormatError(path, "file", "numbers, text, lists and objects only", _one_line(exc)) from None
    data = text.encode()
    if len(data) > MAX_FILE_BYTES:
        raise CalibrationFormatError(path, "file", f"a calibration of at most {MAX_FILE_BYTES >> 20} MB",
                                     f"{len(data) / 2**20:.0f} MB")
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def load_calibration(path) -> Calibration:
    """Read and validate a calibration file; raises :class:`CalibrationFormatError` naming the
    file, the field, what was expected and what was found: for a file over
    :data:`MAX_FILE_BYTES` (before reading it), one that is not JSON or is nested too deep to
    parse, numbers JSON allows and a calibration cannot hold (NaN, Infinity, 1e400, integers of
    more than 30 digits: anywhere in the file), values of the wrong kind or out of their range
    (the limits above), lists of the wrong length."""
    path = Path(path)
    raw = _read_bytes(path)
    return _from_doc(_decode(raw, path), path, hashlib.sha256(raw).hexdigest())


# -- reading ---------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    E = CalibrationFormatError
    expected = "a readable acam calibration file (.json)"
    too_big = f"a calibration file of at most {MAX_FILE_BYTES >> 20} MB"
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise E(path, "file", expected, "a directory")
        if st.st_size > MAX_FILE_BYTES:
            raise E(path, "file", too_big, f"{st.st_size / 2**20:.0f} MB")
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # bounded: a device or pipe has no size to check first
    except OSError as exc:
        raise E(path, "file", expected, exc.strerror or str(exc)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise E(path, "file", too_big, "more")
    return raw


class _Bad:
    """A number JSON (as Python reads it) allows and a calibration cannot hold: NaN, Infinity,
    1e400, a 5000-digit integer. Kept in place by the parser, so that the field holding it is
    named; refused wherever it is."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _parse_int(text: str):
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_DIGITS else _Bad(f"a {digits}-digit integer")


def _parse_float(text: str):
    x = float(text)
    return x if math.isfinite(x) else _Bad(text if len(text) <= 40 else text[:37] + "...")


def _decode(raw: bytes, path: Path):
    E = CalibrationFormatError
    try:
        return json.loads(raw, parse_constant=_Bad, parse_int=_parse_int, parse_float=_parse_float)
    except RecursionError:
        raise E(path, "file", "JSON nested a few levels deep", "nesting too deep to parse") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise E(path, "file", "JSON", f"not JSON ({exc.__class__.__name__})") from None


_MISSING = object()






def _found(v) -> str:
    if v is _MISSING:
        return "no such key"
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, _Bad):
        return v.text
    if isinstance(v, str):
        return f"the text {_shown(v)}"
    if isinstance(v, dict):
        return f"an object of {len(v)} keys"
    if isinstance(v, (list, tuple)):
        return f"a list of {len(v)}"
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    if isinstance(v, int) and v.bit_length() > 100:
        return f"an integer of about {int(v.bit_length() * 0.30103) + 1} digits"
    return _shown(v)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _is_num(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _is_bad_leaf(x) -> bool:
    if isinstance(x, _Bad):
        return True
    if isinstance(x, (float, np.floating)):
        return not math.isfinite(x)
    return isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 100


def _find_bad(doc):
    """(field, value) of the first number a calibration cannot hold, anywhere in ``doc``."""
    stack = [(doc, "")]
    while stack:
        v, where = stack.pop()
        if isinstance(v, dict):
            stack.extend((x, f"{where}/{k}" if where else str(k)) for k, x in reversed(list(v.items())))
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                if isinstance(x, (dict, list, tuple)):
                    stack.append((x, f"{where}[{i}]"))
                elif _is_bad_leaf(x):
                    return f"{where}[{i}]", x
        elif _is_bad_leaf(v):
            return where or "file", v
    return None


def _within(spec, a: np.ndarray) -> np.ndarray:
    """Elementwise: does ``spec`` (a Real or a Count) accept each value of ``a``?"""
    ok = np.isfinite(a)
    if isinstance(spec, Count):
        with np.errstate(invalid="ignore"):
            return ok & (a == np.floor(a)) & (a >= spec.lo) & (a <= spec.hi)
    with np.errstate(invalid="ignore"):
        if spec.lo is not None:
            ok &= (a > spec.lo) if spec.lo_open else (a >= spec.lo)
        if spec.hi is not None:
            ok &= (a < spec.hi) if spec.hi_open else (a <= spec.hi)
    return ok


class _Fields:
    """Typed access to a calibration document's fields; anything else is one
    :class:`CalibrationFormatError` naming the file and the field."""

    def __init__(self, path):
        self.path = path

    def fail(self, field: str, expected: str, found: str):
        raise CalibrationFormatError(self.path, field, expected, found)

    def section(self, doc: dict, key: str) -> dict | None:
        v = doc.get(key)
        if v is None:
            return None
        if not isinstance(v, dict):
            self.fail(key, "an object", _found(v))
        return v

    def number(self, v, field: str, spec):
        if not _is_num(v) or _huge(v):
            self.fail(field, spec.describe(), _found(v))
        try:
            return spec(v, field)
        except (AcamError, OverflowError):
            self.fail(field, spec.describe(), _found(v))

    def num(self, d: dict, sec: str, key: str, spec, nullable: bool = False):
        v = d.get(key, _MISSING)
        if nullable and v is None:
            return None
        return self.number(v, f"{sec}/{key}", spec)

    def flag(self, d: dict, sec: str, key: str) -> bool:
        v = d.get(key, _MISSING)
        if not isinstance(v, (bool, np.bool_)):
            self.fail(f"{sec}/{key}", "true or false", _found(v))
        return bool(v)

    def text(self, v, field: str) -> str:
        if not isinstance(v, str) or len(v) > MAX_TEXT:
            self.fail(field, f"a text of at most {MAX_TEXT} characters",
                      f"{len(v)} characters" if isinstance(v, str) else _found(v))
        return v

    def texts(self, d: dict, sec: str, key: str) -> tuple[str, ...]:
        v = d.get(key, _MISSING)
        if not isinstance(v, (list, tuple)):
            self.fail(f"{sec}/{key}", "a list of texts", _found(v))
        return tuple(self.text(x, f"{sec}/{key}[{i}]") for i, x in enumerate(v))

    def floats(self, v, field: str, spec) -> np.ndarray:
        """A list of numbers, each accepted by ``spec``, as float64 (vectorised for the gains)."""
        if all(type(x) is float or type(x) is int for x in v):
            try:
                a = np.array(v, dtype=np.float64)
            except OverflowError:
                a = None
            if a is not None and a.shape == (len(v),) and _within(spec, a).all():
                return a
        for i, x in enumerate(v):
            self.number(x, f"{field}[{i}]", spec)
        return np.array([float(x) for x in v], dtype=np.float64)

    def vector(self, d: dict, sec: str, key: str, spec, length: int | None = None, min_length: int = 1) -> np.ndarray:
        v = d.get(key, _MISSING)
        n = f"a list of {length}" if length is not None else "a non-empty list of" if min_length == 1 else \
            f"a list of at least {min_length}"
        if not isinstance(v, (list, tuple)) or (length is not None and len(v) != length) or len(v) < min_length:
            self.fail(f"{sec}/{key}", f"{n} numbers, each {spec.describe()}", _found(v))
        return self.floats(v, f"{sec}/{key}", spec)

    def band(self, d: dict, sec: str, key: str) -> tuple[float, float]:
        lo, hi = self.vector(d, sec, key, FREQUENCY, length=2)
        if not lo < hi:
            self.fail(f"{sec}/{key}", "[lo, hi] in Hz with lo < hi", f"[{lo:g}, {hi:g}]")
        return float(lo), float(hi)


def _shape(v) -> str:
    if isinstance(v, (list, tuple)) and all(isinstance(r, (list, tuple)) for r in v):
        widths = {len(r) for r in v}
        if len(widths) <= 1:
            return str((len(v), widths.pop() if widths else 0))
        return f"rows of {min(widths)} to {max(widths)} numbers"
    return _found(v)


def _from_doc(doc, path, sha256: str) -> Calibration:
    """A :class:`Calibration` from a parsed document, every field checked."""
    F = _Fields(path)
    if not isinstance(doc, dict):
        F.fail("acam_schema", f"'{SCHEMA}' (a JSON object)", _found(doc))
    if doc.get("acam_schema") != SCHEMA:
        found = doc.get("acam_schema", _MISSING)
        F.fail("acam_schema", f"'{SCHEMA}'", _shown(found) if isinstance(found, str) else _found(found))
    version = doc.get("version", _MISSING)
    if not (type(version) is int and version == VERSION):
        F.fail("version", str(VERSION), _found(version))
    created = F.text(doc.get("created", ""), "created")
    sources = doc.get("sources", [])
    if not isinstance(sources, (list, tuple)):
        F.fail("sources", "a list of objects", _found(sources))
    for i, x in enumerate(sources):
        if not isinstance(x, dict):
            F.fail(f"sources[{i}]", "an object", _found(x))

    mics = None
    d = F.section(doc, "microphones")
    if d is not None:
        sec = "microphones"
        n = F.num(d, sec, "n_mics", N_MICS)
        freqs = F.vector(d, sec, "freqs_hz", FREQUENCY)
        step = np.diff(freqs)
        if np.any(step <= 0):
            i = int(np.flatnonzero(step <= 0)[0])
            F.fail(f"{sec}/freqs_hz", "frequencies in increasing order",
                   f"{freqs[i]:g} Hz then {freqs[i + 1]:g} Hz at [{i}], [{i + 1}]")
        re_, im_ = d.get("gain_re", _MISSING), d.get("gain_im", _MISSING)
        want = str((n, freqs.size))
        if _shape(re_) != want or _shape(im_) != want:
            F.fail(f"{sec}/gain_re, gain_im", f"{want} numbers each", f"{_shape(re_)} and {_shape(im_)}")
        re = np.stack([F.floats(r, f"{sec}/gain_re[{m}]", GAIN_PART) for m, r in enumerate(re_)])
        im = np.stack([F.floats(r, f"{sec}/gain_im[{m}]", GAIN_PART) for m, r in enumerate(im_)])
        mag = np.hypot(re, im)
        out = (mag < GAIN_MIN) | (mag > GAIN_MAX)
        if out.any():
            m, k = (int(v) for v in np.argwhere(out)[0])
            F.fail(f"{sec}/gain_re[{m}][{k}], gain_im[{m}][{k}]",
                   f"a gain magnitude from {GAIN_MIN:g} to {GAIN_MAX:g} (+-60 dB)",
                   f"{mag[m, k]:.3g} (microphone {m}, {freqs[k]:g} Hz)")
        band = F.band(d, sec, "band_hz")
        pos = tuple(float(v) for v in F.vector(d, sec, "source_position_m", COORDINATE, length=3))
        faults_ = d.get("faults", _MISSING)
        if not isinstance(faults_, (list, tuple)):
            F.fail(f"{sec}/faults", "a list of objects (mic, fault, exclude, detail)", _found(faults_))
        faults = []
        mic_index = Count(0, n - 1)
        for i, f in enumerate(faults_):
            where = f"{sec}/faults[{i}]"
            if not isinstance(f, dict):
                F.fail(where, "an object (mic, fault, exclude, detail)", _found(f))
            kind = f.get("fault", _MISSING)
            if not isinstance(kind, str) or kind not in FAULTS:
                F.fail(f"{where}/fault", f"one of {', '.join(FAULTS)}", _found(kind))
            faults.append(Fault(F.num(f, where, "mic", mic_index), kind, F.flag(f, where, "exclude"),
                                F.text(f.get("detail", _MISSING), f"{where}/detail")))
        mics = MicCalibration(freqs, re + 1j * im, band, pos, tuple(faults))

    camera = None
    d = F.section(doc, "camera")
    if d is not None:
        sec = "camera"
        w, h = F.num(d, sec, "width", IMAGE_SIDE), F.num(d, sec, "height", IMAGE_SIDE)
        board = F.vector(d, sec, "board", BOARD_CORNERS, length=2)
        camera = CameraCalibration(
            width=w, height=h, fx=F.num(d, sec, "fx", FOCAL_PX), fy=F.num(d, sec, "fy", FOCAL_PX),
            cx=F.num(d, sec, "cx", Real(-0.5, w - 0.5, unit="px")), cy=F.num(d, sec, "cy", Real(-0.5, h - 0.5, unit="px")),
            distortion=tuple(float(v) for v in F.vector(d, sec, "distortion", DISTORTION, length=5)),
            rms_px=F.num(d, sec, "rms_px", RMS_PX), views_used=F.num(d, sec, "views_used", VIEWS),
            views_rejected=F.texts(d, sec, "views_rejected"), board=(int(board[0]), int(board[1])),
            square_m=F.num(d, sec, "square_m", SIDE_METRES))

    sync = None
    d = F.section(doc, "sync")
    if d is not None:
        sec = "sync"
        sync = SyncCalibration(F.num(d, sec, "av_offset_s", AV_OFFSET), F.num(d, sec, "events", EVENTS),
                               F.num(d, sec, "uncertainty_s", UNCERTAINTY_S), F.num(d, sec, "distance_m", DISTANCE_M))

    pose = None
    d = F.section(doc, "pose")
    if d is not None:
        sec = "pose"
        rot_ = d.get("rotation", _MISSING)
        if _shape(rot_) != "(3, 3)":
            F.fail(f"{sec}/rotation", "a proper 3x3 rotation matrix", _shape(rot_))
        R = np.stack([F.floats(r, f"{sec}/rotation[{i}]", Real(-2.0, 2.0)) for i, r in enumerate(rot_)])
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            F.fail(f"{sec}/rotation", "a proper 3x3 rotation matrix (orthonormal, determinant +1)",
                   "a matrix that is not one")
        pose = PoseCalibration(
            rotation=R, translation=F.vector(d, sec, "translation_m", COORDINATE, length=3),
            translation_estimated=F.flag(d, sec, "translation_estimated"), rms_deg=F.num(d, sec, "rms_deg", ANGLE_RMS_DEG),
            rotation_sd_deg=F.num(d, sec, "rotation_sd_deg", SPREAD),
            translation_sd_m=F.num(d, sec, "translation_sd_m", SPREAD, nullable=True),
            frames_used=F.num(d, sec, "frames_used", FRAMES), frames_rejected=F.num(d, sec, "frames_rejected", FRAMES),
            marker_id=F.num(d, sec, "marker_id", MARKER_ID),
            marker_size_m=F.num(d, sec, "marker_size_m", SIDE_METRES, nullable=True), band_hz=F.band(d, sec, "band_hz"))

    bad = _find_bad(doc)  # the fields no reader takes (sources, notes for people) hold no NaN either
    if bad is not None:
        F.fail(bad[0], "a finite number", _found(bad[1]))
    return Calibration(mics, camera, sync, pose, tuple(sources), created, sha256)


def _plain(v):
    """JSON for the NumPy values a calibration's fields may hold."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not a JSON value")
