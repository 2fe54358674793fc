"""Pinhole camera model with lens distortion and its pose relative to the microphone array.

Conventions (OpenCV's): image u to the right, v downwards, pixel centres at integer
coordinates, so the centre of a W x H image is ((W-1)/2, (H-1)/2). The camera frame has x to
the right, y down and z along the optical axis. ``rotation`` and ``translation`` map array-frame
points into the camera frame: ``X_cam = R @ X_array + t``.

Defaults describe a DualCam-like camera: 640x480, 60 degrees horizontal field of view
(fx = fy = 320 / tan(30 deg) = 554.26 px), principal point at the image centre, no
distortion, at the array centre looking along the array normal (R = I, t = 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..constants import CAMERA_FOCAL_PX, CAMERA_HEIGHT, CAMERA_WIDTH
from ..errors import AcamError
from ..options import COORDINATE, Count, Real
from ..options import huge_int as _huge
from ..options import shown as _shown

IMAGE_SIDE = Count(1, 100_000, "px")
"""A picture's width or height: beyond 100000 px no camera sensor exists."""
FOCAL_PX = Real(1.0, 1e7, unit="px")
"""A focal length in pixels: 1 px is a 179.8-degree view across 640 px, 1e7 px a 0.004-degree one."""
DISTORTION = Real(-1000.0, 1000.0)
"""An OpenCV distortion coefficient (lenses beside arrays have |k| < 1; fisheye fits reach tens)."""


def rotation_from_ypr(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation R (array frame -> camera frame) of a camera turned by ``yaw`` (its optical
    axis toward +x, to the right), ``pitch`` (toward -y, up) and ``roll`` (about the optical axis,
    clockwise seen from behind the camera: the scene turns the other way in the picture), in degrees, applied in that order from the array's axes."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return (ry @ rx @ rz).T  # columns of R^T: the camera's axes in the array frame


def ypr_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation made by :func:`rotation_from_ypr`."""
    c = np.asarray(rot, dtype=np.float64).T  # = Ry Rx Rz
    pitch = math.asin(float(np.clip(-c[1, 2], -1, 1)))
    yaw = math.atan2(c[0, 2], c[2, 2])
    roll = math.atan2(c[1, 0], c[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera: intrinsics, OpenCV distortion (k1, k2, p1, p2, k3) and pose."""

    width: int = CAMERA_WIDTH
    height: int = CAMERA_HEIGHT
    fx: float = CAMERA_FOCAL_PX
    fy: float = CAMERA_FOCAL_PX
    cx: float = (CAMERA_WIDTH - 1) / 2
    cy: float = (CAMERA_HEIGHT - 1) / 2
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        """Refuse, in one line naming the field, intrinsics or a pose that no camera has: sizes
        outside 1..100000 px, focal lengths outside 1..1e7 px, a principal point outside the
        picture, non-finite or absurd distortion, a rotation that is not one, a centre farther
        than 1 km."""
        w = _scalar(self.width, "camera/width", IMAGE_SIDE)
        h = _scalar(self.height, "camera/height", IMAGE_SIDE)
        fx = _scalar(self.fx, "camera/fx", FOCAL_PX)
        fy = _scalar(self.fy, "camera/fy", FOCAL_PX)
        cx = _scalar(self.cx, "camera/cx", Real(-0.5, w - 0.5, unit="px"))
        cy = _scalar(self.cy, "camera/cy", Real(-0.5, h - 0.5, unit="px"))
        d = _floats(self.distortion, "camera/distortion", "up to 5 coefficients (k1, k2, p1, p2, k3)").ravel()
        if d.size > 5:
            raise AcamError(f"camera/distortion: expected up to 5 coefficients (k1, k2, p1, p2, k3), found {d.size}")
        _check_each(d, "camera/distortion", DISTORTION)
        dist = np.zeros(5)
        dist[: d.size] = d
        rot = _floats(self.rotation, "camera/rotation", "a proper 3x3 rotation matrix")
        if rot.shape != (3, 3):
            raise AcamError(f"camera/rotation: expected a proper 3x3 rotation matrix, found shape {rot.shape}")
        if not (np.all(np.abs(rot) <= 1 + 1e-6) and np.allclose(rot @ rot.T, np.eye(3), atol=1e-6)
                and np.linalg.det(rot) > 0):
            raise AcamError("camera/rotation: expected a proper 3x3 rotation matrix (orthonormal, determinant +1), "
                            f"found {_shown([[float(f'{v:.6g}') for v in row] for row in rot])}")
        tr = _floats(self.translation, "camera/translation", "3 values in metres").ravel()
        if tr.shape != (3,):
            raise AcamError(f"camera/translation: expected 3 values in metres, found {tr.size}")
        _check_each(tr, "camera/translation", COORDINATE)
        for name, v in (("width", w), ("height", h), ("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)):
            object.__setattr__(self, name, v)
        for name, arr in (("distortion", dist), ("rotation", rot.copy()), ("translation", tr.copy())):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def with_fov(cls, hfov_deg: float, width: int = CAMERA_WIDTH, height: int = CAMERA_HEIGHT, **kw) -> "Camera":
        """A camera with square pixels and the given horizontal field of view."""
        hfov = Real(0.0, 180.0, lo_open=True, hi_open=True, unit="degrees")(hfov_deg, "camera field of view")
        width = _scalar(width, "camera/width", IMAGE_SIDE)
        f = (width / 2) / math.tan(math.radians(hfov / 2))
        return cls(width=width, height=height, fx=f, fy=f, cx=(width - 1) / 2, cy=(height - 1) / 2, **kw)

    def posed(self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, position=(0.0, 0.0, 0.0)) -> "Camera":
        """This camera, mounted with the given orientation (degrees, :func:`rotation_from_ypr`)
        and centre (metres, array frame)."""
        from dataclasses import replace

        rot = rotation_from_ypr(yaw, pitch, roll)
        return replace(self, rotation=rot, translation=-rot @ np.asarray(position, dtype=np.float64))

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 intrinsic matrix K."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])

    @property
    def position(self) -> np.ndarray:
        """Camera centre in the array frame."""
        return -self.rotation.T @ self.translation

    def _distort(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k1, k2, p1, p2, k3 = self.distortion
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        return xd, yd

    def _undistort(self, xd: np.ndarray, yd: np.ndarray, iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
        if not np.any(self.distortion):
            return xd, yd
        # Fixed-point inversion, as OpenCV's undistortPoints does; converges for the mild
        # distortion of camera lenses used beside acoustic arrays.
        x, y = xd.copy(), yd.copy()
        for _ in range(iterations):
            xx, yy = self._distort(x, y)
            x, y = x - (xx - xd), y - (yy - yd)
        return x, y

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Array-frame points (..., 3) -> pixels (..., 2) (u, v) and a mask of points in front of
        the camera (z > 0). Points behind the camera get NaN pixels."""
        p = np.asarray(points, dtype=np.float64)
        pc = p @ self.rotation.T + self.translation
        z = pc[..., 2]
        front = z > 1e-9
        with np.errstate(divide="ignore", invalid="ignore"):
            x, y = pc[..., 0] / z, pc[..., 1] / z
        xd, yd = self._distort(x, y)
        uv = np.stack([self.fx * xd + self.cx, self.fy * yd + self.cy], axis=-1)
        uv[~front] = np.nan
        return uv, front

    def in_image(self, uv: np.ndarray) -> np.ndarray:
        """Mask of pixels (..., 2) inside the image (pixel edges at -0.5 and W-0.5)."""
        u, v = uv[..., 0], uv[..., 1]
        with np.errstate(invalid="ignore"):
            return (u >= -0.5) & (u < self.width - 0.5) & (v >= -0.5) & (v < self.height - 0.5)

    def rays(self, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (..., 2) -> (origin (3,), unit directions (..., 3)) in the array frame."""
        uv = np.asarray(uv, dtype=np.float64)
        xd = (uv[..., 0] - self.cx) / self.fx
        yd = (uv[..., 1] - self.cy) / self.fy
        x, y = self._undistort(xd, yd)
        d = np.stack([x, y, np.ones_like(x)], axis=-1)
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return self.position, d @ self.rotation  # R^T d for row vectors

    def backproject(self, uv: np.ndarray, depth: float | np.ndarray) -> np.ndarray:
        """Pixels (..., 2) -> array-frame points at the given depth (distance along the optical
        axis, metres)."""
        origin, d = self.rays(uv)
        dz = d @ self.rotation.T  # directions back in the camera frame
        scale = np.asarray(depth) / dz[..., 2]
        return origin + d * scale[..., None]

    def to_dict(self) -> dict:
        return {
            "width": int(self.width), "height": int(self.height),
            "fx": float(self.fx), "fy": float(self.fy), "cx": float(self.cx), "cy": float(self.cy),
            "distortion": self.distortion.tolist(), "rotation": self.rotation.tolist(),
            "translation": self.translation.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict, name: str = "camera") -> "Camera":
        """A camera from :meth:`to_dict`'s keys (a session's ``/camera`` attributes, a JSON
        object); a missing key or a value of the wrong kind is refused in one line naming it
        (``name/key``)."""
        if not isinstance(d, Mapping):
            raise AcamError(f"{name}: expected an object with {', '.join(_DICT_KEYS)}, found {_shown(d)}")
        missing = [k for k in _DICT_KEYS if k not in d]
        if missing:
            raise AcamError(f"{name}/{missing[0]}: expected {', '.join(_DICT_KEYS)}, found no {missing[0]}")
        kw = {}
        for k in ("width", "height", "fx", "fy", "cx", "cy"):
            v = d[k]
            if not _is_number(v):
                raise AcamError(f"{name}/{k}: expected a number, found {_shown(v)}")
            kw[k] = v
        for k in ("distortion", "rotation", "translation"):
            kw[k] = _floats(d[k], f"{name}/{k}", "numbers")
        try:
            return cls(**kw)
        except AcamError as exc:
            msg = str(exc)
            raise AcamError(name + msg[len("camera"):] if name != "camera" and msg.startswith("camera/") else msg) from None


_DICT_KEYS = ("width", "height", "fx", "fy", "cx", "cy", "distortion", "rotation", "translation")






def _is_number(v) -> bool:
    """A real number (Python or NumPy, or a 0-d array of one); not a bool, string or None."""
    if isinstance(v, np.ndarray):
        return v.ndim == 0 and v.dtype.kind in "iuf"
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _scalar(v, name: str, spec):
    if not _is_number(v) or _huge(v):
        raise AcamError(f"{name}: expected {spec.describe()}, found {_shown(v)}")
    try:
        return spec(v.item() if isinstance(v, (np.ndarray, np.generic)) else v, name)
    except OverflowError:
        raise AcamError(f"{name}: expected {spec.describe()}, found {_shown(v)}") from None


def _floats(v, name: str, expected: str) -> np.ndarray:
    """``v`` as a float64 array, refusing strings, booleans, None and ragged or nested objects."""
    try:
        a = np.asarray(v)
        if a.dtype.kind not in "iuf":
            raise TypeError
        return a.astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        raise AcamError(f"{name}: expected {expected}, found {_shown(v)}") from None


def _check_each(a: np.ndarray, name: str, spec) -> None:
    for i, x in enumerate(a.ravel()):
        spec(float(x), f"{name}[{i}]")
