"""The acoustic-image file (HDF5, schema ``acam-acoustic`` v1): a session's acoustic images,
one per video frame, in a file beside the session (``NAME.acoustic.h5``). This module is the
format's one owner: :class:`AcousticWriter` writes it (``acam beamform``, ``acam import
dualcam-mfcc``) and :func:`open_acoustic` reads and validates it (render, plots, models).

Layout:

    /volumes             (frames, rows, cols, bins) float32|float16 power (Pa^2 per bin),
                         chunks (1, rows, cols, 64): cheap per-frame and per-band reads
    /mfcc                (frames, rows, cols, 12) float32
    /energy_db           (frames, rows, cols) float32, band energy in dB re 1 Pa^2
    /frequencies         (bins,) Hz
    /frame_sample_index  (frames,) and /frame_time (frames,): the session's video timestamps
    /coverage            (frames,) fraction of each frame's window inside the recording
    /grid/pixels (rows, cols, 2), /grid/rects (rows, cols, 4), /grid/directions (rows, cols, 3),
    /grid/points (rows, cols, 3, near field only)
    attrs                acam_schema, acam_schema_version, software_version, complete,
                         params_json, session_path, session_time_data_sha256, sample_freq

At least one of /volumes, /mfcc, /energy_db is present. ``complete`` is 1 only once every frame
is written; writers also write under a temporary name (:mod:`.atomic`), so an interrupted run
leaves no file at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..array.grid import LookGrid
from .. import options
from ..errors import AcamError, AcousticFormatError, DiskError, os_error_line
from .atomic import final_name
from .hdf5 import Guarded, dataset, metadata_errors, open_h5, read, schema_version
from .room import NoRoom, Room, close_after_failure
from .session import SCHEMA_NAME as SESSION_SCHEMA

SCHEMA_NAME = "acam-acoustic"
SCHEMA_VERSION = 1
SUFFIX = ".acoustic.h5"
FEATURES = ("volumes", "mfcc", "energy")
"""What an acoustic file can hold: full power volumes, MFCC images, band-energy maps."""
DATASET_OF = {"volumes": "volumes", "mfcc": "mfcc", "energy": "energy_db"}
VOLUME_DTYPES = ("float32", "float16")
"""How /volumes may be stored (float16 halves the 42.5 MB per second of video)."""
BAND_CHUNK = 64  # bins per /volumes chunk


def acoustic_path_for(session_path: str | Path) -> Path:
    """Where a session's acoustic file lives by default: ``NAME.acoustic.h5`` beside it."""
    p = Path(session_path)
    return p.with_name(p.stem + SUFFIX)


def is_acoustic_path(path: str | Path) -> bool:
    return Path(path).name.endswith(SUFFIX)


def parse_features(text: str) -> tuple[str, ...]:
    """'mfcc,energy' -> ('mfcc', 'energy'); an AcamError names anything else."""
    feats = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [f for f in feats if f not in FEATURES]
    if bad or not feats:
        raise AcamError(f"--features: expected a comma-separated subset of {', '.join(FEATURES)}, found {text!r}")
    return feats


class AcousticWriter:
    """Writes one acoustic file: the header and grid at creation, then frames in any order of
    blocks (:meth:`write`), then :meth:`finish` marks it complete. Use inside
    :func:`.atomic.atomic_output` so that only a finished file ever carries the final name.

    Args:
        path: the file to create (normally the temporary name from ``atomic_output``).
        session: the open :class:`.session.Session` the images belong to.
        grid: the look grid (:class:`~acoustic_camera.array.grid.LookGrid`).
        freqs: (bins,) frequencies of the volumes' bins, Hz.
        params: every parameter that made the images (stored as ``params_json``).
        features: which of :data:`FEATURES` to store.
        dtype: of /volumes ('float32' or 'float16').
        coverage: (frames,) fraction of each frame's window inside the recording.
        n_mfcc: MFCC coefficients per image.
        final_path: the file ``path`` becomes (default: NAME.h5 for the temporary NAME.partial.h5
            of ``atomic_output``, else ``path``): errors name it.

    A full disk is met before HDF5 meets it (:class:`.room.Room`); then, or
    when a write fails otherwise (an I/O error), the file is closed and removed and
    :class:`~acoustic_camera.errors.DiskError` names ``final_path``. :meth:`write` refuses
    arrays that are not finite everywhere.
    """

    def __init__(self, path, *, session, grid: LookGrid, freqs, params: dict, features, dtype: str = "float32",
                 coverage=None, n_mfcc: int = 12, final_path=None):
        feats = tuple(features)
        if not feats or any(f not in FEATURES for f in feats):
            raise ValueError(f"features must be a non-empty subset of {FEATURES}, got {feats}")
        self.path = Path(path)
        self.final_path = Path(final_path) if final_path is not None else final_name(self.path)
        self.f = None
        self._room = None
        self._failed = False
        self.datasets = {}
        try:
            self._create(session, grid, freqs, params, feats, dtype, coverage, n_mfcc)
        except BaseException as exc:
            self._fail(exc)

    def _create(self, session, grid, freqs, params, feats, dtype, coverage, n_mfcc) -> None:
        n, rows, cols = session.n_frames, grid.rows, grid.cols
        freqs = np.asarray(freqs, dtype=np.float64)
        self.f = f = h5py.File(self.path, "w")
        self._room = Room(f, self.path)
        self._room.ensure(grid.pixels.nbytes * 6 + freqs.nbytes + 40 * n)  # the fixed datasets
        a = f.attrs
        a["acam_schema"] = SCHEMA_NAME
        a["acam_schema_version"] = SCHEMA_VERSION
        a["software_version"] = __version__
        a["complete"] = 0
        a["session_path"] = str(Path(session.path).resolve())
        a["sample_freq"] = float(session.sample_freq)
        a["params_json"] = json.dumps(dict(params, features=list(feats), grid=[rows, cols],
                                           focus_distance=grid.focus_distance), default=float)
        # every dataset held open until the file closes: one dropped here writes its buffered
        # data when closed, and on a full disk that failure would go unseen and leave HDF5 a
        # broken object (a crash at exit)
        g = f.create_group("grid")
        fixed = {"frequencies": freqs, "frame_sample_index": np.asarray(session.frame_sample_index, dtype=np.int64),
                 "frame_time": np.asarray(session.frame_time, dtype=np.float64),
                 "coverage": np.ones(n) if coverage is None else np.asarray(coverage, dtype=np.float64),
                 "grid/pixels": grid.pixels, "grid/rects": grid.rects, "grid/directions": grid.directions}
        if grid.points is not None:
            fixed["grid/points"] = grid.points
        self._held = [g] + [f.create_dataset(k, data=v) for k, v in fixed.items()]
        if "volumes" in feats:
            self.datasets["volumes"] = f.create_dataset("volumes", (n, rows, cols, freqs.size), dtype=dtype,
                                                        chunks=(1, rows, cols, min(BAND_CHUNK, max(freqs.size, 1))))
        if "mfcc" in feats:
            self.datasets["mfcc"] = f.create_dataset("mfcc", (n, rows, cols, n_mfcc), dtype="float32",
                                                     chunks=(min(64, max(n, 1)), rows, cols, n_mfcc))
        if "energy" in feats:
            self.datasets["energy"] = f.create_dataset("energy_db", (n, rows, cols), dtype="float32",
                                                       chunks=(min(256, max(n, 1)), rows, cols))

    def write(self, k0: int, **arrays) -> None:
        """Frames k0.. of any stored feature: ``write(k0, volumes=v, mfcc=m, energy=e)``. Arrays
        not finite everywhere (as stored: float16 holds up to 65504) are refused, nothing written."""
        self._check_open()
        out = []
        for name, x in arrays.items():
            if x is not None and name in self.datasets:
                ds = self.datasets[name]
                x = np.asarray(x)
                with np.errstate(over="ignore", invalid="ignore"):  # found and named just below
                    y = x.astype(ds.dtype, copy=False)
                self._check_finite(ds, k0, x, y)
                out.append((ds, y))
        try:
            self._room.ensure(sum(y.nbytes for _, y in out))
            for ds, y in out:
                ds[k0:k0 + len(y)] = y
                self._room.handed(ds.name, y.nbytes)
        except Exception as exc:
            self._fail(exc)

    def _check_finite(self, ds, k0: int, x: np.ndarray, y: np.ndarray) -> None:
        if y.size == 0 or np.isfinite(y).all():
            return
        bad = ~np.isfinite(y).reshape(len(y), -1).all(axis=1)
        if not bad.any():
            return
        first = k0 + int(np.flatnonzero(bad)[0])
        if np.isfinite(x).reshape(len(x), -1).all(axis=1)[first - k0]:
            found = f"values beyond {ds.dtype}'s range (store them as float32)"
        else:
            found = "NaN or infinite values"
        raise AcamError(f"{self.final_path}: {ds.name} frames {k0}..{k0 + len(y) - 1}: expected finite values, found "
                        f"{found} in {int(bad.sum())} frame(s), the first frame {first}; nothing written")

    def update_params(self, **extra) -> None:
        """Add parameters known only once the frames are written (before :meth:`finish`)."""
        self._check_open()
        try:
            text = json.dumps(dict(json.loads(self.f.attrs["params_json"]), **extra), default=float)
            self._room.ensure(2 * len(text))
            self.f.attrs["params_json"] = text
        except Exception as exc:
            self._fail(exc)

    def finish(self, session_sha256: str) -> None:
        """Mark the file complete, naming the audio it came from; closes it."""
        self._check_open()
        try:
            self._room.ensure(4096)
            self.f.attrs["session_time_data_sha256"] = session_sha256
            self.f.attrs["complete"] = 1
            self.f.flush()  # a close that fails to write leaves HDF5 half torn down, a flush does not
            self.f.close()
        except Exception as exc:
            self._fail(exc)
        Room.release(self.path)

    def close(self) -> None:
        if not self._failed and self.f is not None and self.f.id.valid:
            try:
                self.f.flush()
                self.f.close()
            except Exception as exc:
                self._fail(exc)
            Room.release(self.path)

    def _check_open(self) -> None:
        if self._failed or self.f is None or not self.f.id.valid:
            raise AcamError(f"{self.final_path}: the acoustic file is closed: nothing more can be written to it")

    def _fail(self, exc: BaseException):
        """Writing failed: close the file writing nothing more to it, remove it, and raise a
        :class:`DiskError` naming the final file for the machine's errors (disk full, I/O,
        permissions), else ``exc`` itself."""
        self._failed = True  # nothing touches the file again (HDF5 may be unable to close it)
        room = self._room
        if isinstance(exc, NoRoom) and room is not None and room.until > 0 and self.f.id.valid:
            try:  # met before HDF5 was asked to write: the room claimed before takes the close
                self.f.flush()
                self.f.close()
            except Exception:
                pass
        close_after_failure(self.f)
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        if os_error_line(exc) is not None:
            raise DiskError(self.final_path, exc) from exc
        raise exc

    def __enter__(self) -> "AcousticWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # the error that ended the block is the one to see; the file goes in any case
            try:
                self.close()
            except Exception:
                pass


@dataclass
class AcousticFile:
    """An open, validated acoustic file. Feature datasets are h5py datasets (read lazily, e.g.
    ``a.mfcc[k0:k1]``), or None when absent; use as a context manager."""

    path: Path
    file: h5py.File = field(repr=False)
    schema_version: int
    params: dict
    frequencies: np.ndarray
    frame_sample_index: np.ndarray
    frame_time: np.ndarray
    coverage: np.ndarray
    grid: LookGrid
    session_path: str
    session_sha256: str
    volumes: h5py.Dataset | None = field(default=None, repr=False)
    mfcc: h5py.Dataset | None = field(default=None, repr=False)
    energy_db: h5py.Dataset | None = field(default=None, repr=False)

    @property
    def n_frames(self) -> int:
        return len(self.frame_sample_index)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(k for k in FEATURES if getattr(self, DATASET_OF[k]) is not None)

    @property
    def band(self) -> tuple[float, float | None]:
        """The band of /energy_db, Hz (HI None: up to the top bin)."""
        lo, hi = self.params.get("band_hz", (None, None))
        return (float(lo) if lo is not None else 0.0, float(hi) if hi is not None else None)

    def check_session(self, session) -> None:
        """The file belongs to this open session: same frames at the same timestamps."""
        if self.n_frames != session.n_frames or not np.array_equal(self.frame_sample_index, session.frame_sample_index):
            raise AcousticFormatError(self.path, "/frame_sample_index",
                                      f"the {session.n_frames} frame timestamps of {session.path}",
                                      f"{self.n_frames} frames" + ("" if self.n_frames != session.n_frames
                                                                   else " at other timestamps"))

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "AcousticFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_acoustic(path: str | Path, session=None) -> AcousticFile:
    """Open and validate an acoustic file; with ``session`` (an open session) also check that
    the file belongs to it. Raises :class:`~acoustic_camera.errors.AcousticFormatError`, one
    line naming the file, the field, what was expected and what was found."""
    path = Path(path)
    f, _ = open_h5(path, AcousticFormatError, "an acam acoustic-image file (acam beamform output)")
    try:
        with metadata_errors(path, AcousticFormatError):
            a = _read(path, f)
        if session is not None:
            a.check_session(session)
        return a
    except BaseException:
        f.close()
        raise


def _read(path: Path, f: h5py.File) -> AcousticFile:
    E = AcousticFormatError
    if f.attrs.get("acam_schema") == SESSION_SCHEMA:
        raise E(path, "root attribute acam_schema", f"'{SCHEMA_NAME}'",
                f"'{SESSION_SCHEMA}' (a session: its acoustic file is {acoustic_path_for(path).name})")
    version = schema_version(f, path, E, SCHEMA_NAME, SCHEMA_VERSION)
    if int(f.attrs.get("complete", 0)) != 1:
        raise E(path, "root attribute complete", "1 (every frame written)", "0: its writer did not finish")
    try:
        text = f.attrs["params_json"]
        if not isinstance(text, (str, bytes)) or len(text) > 1 << 20:
            raise ValueError
        params = json.loads(text)
        if not isinstance(params, dict):
            raise ValueError
    except (KeyError, TypeError, ValueError, RecursionError):
        raise E(path, "root attribute params_json", "a JSON object of the parameters", "missing or unparsable") from None
    try:
        band = params.get("band_hz")
        if band is not None:
            options.band(tuple(band) if isinstance(band, list) else band, "band_hz")
        fd = params.get("focus_distance")
        fd = None if fd is None else options.METRES(fd, "focus_distance")
    except (AcamError, TypeError):
        raise E(path, "root attribute params_json", "band_hz [lo, hi] with 0 <= lo < hi and a focus_distance in metres "
                "(or null)", f"band_hz {params.get('band_hz')!r:.40}, focus_distance {params.get('focus_distance')!r:.20}") from None

    def small(name, kind):
        return read(dataset(f, path, E, name, 1, kind), (), path, E)

    freqs = small("frequencies", "f")
    if freqs.size and (not np.all(np.isfinite(freqs)) or np.any(freqs < 0) or np.any(np.diff(freqs) <= 0)):
        raise E(path, "/frequencies", "finite, increasing frequencies >= 0 Hz", "others")
    fsi = small("frame_sample_index", "iu")
    n = len(fsi)
    ft = small("frame_time", "f")
    cov = small("coverage", "f")
    for name, arr in (("frame_time", ft), ("coverage", cov)):
        if len(arr) != n:
            raise E(path, f"/{name}", f"{n} entries, one per frame of /frame_sample_index", str(len(arr)))
    if not np.all((cov >= 0) & (cov <= 1)):
        raise E(path, "/coverage", "fractions from 0 to 1", "others (or NaN)")
    pixels = dataset(f, path, E, "grid/pixels", 3, "f")
    rows, cols = pixels.shape[:2]
    if pixels.shape[2] != 2:
        raise E(path, "/grid/pixels", "shape (rows, cols, 2)", str(pixels.shape))
    grid_arrays = {"pixels": read(pixels, (), path, E)}
    for name, depth in (("rects", 4), ("directions", 3), ("points", 3)):
        if name == "points" and "grid/points" not in f:
            grid_arrays[name] = None
            continue
        ds = dataset(f, path, E, f"grid/{name}", 3, "f", (cols, depth))
        if ds.shape[0] != rows:
            raise E(path, f"/grid/{name}", f"shape ({rows}, {cols}, {depth}) as /grid/pixels", str(ds.shape))
        grid_arrays[name] = read(ds, (), path, E)
    for name, arr in grid_arrays.items():
        if arr is not None and not np.all(np.isfinite(arr)):
            raise E(path, f"/grid/{name}", "finite numbers", "NaN or inf")
    grid = LookGrid(rows, cols, grid_arrays["pixels"], grid_arrays["rects"], grid_arrays["directions"],
                    grid_arrays["points"], fd)
    feats = {}
    tails = {"volumes": (rows, cols, len(freqs)), "mfcc": None, "energy_db": (rows, cols)}
    for name, tail in tails.items():
        if name not in f:
            feats[name] = None
            continue
        ds = dataset(f, path, E, name, 4 if name != "energy_db" else 3, "f", tail)
        if name == "mfcc" and tuple(ds.shape[1:3]) != (rows, cols):
            raise E(path, "/mfcc", f"shape (n, {rows}, {cols}, coefficients) as /grid/pixels", str(ds.shape))
        if ds.shape[0] != n:
            raise E(path, f"/{name}", f"{n} frames, one per entry of /frame_sample_index", str(ds.shape[0]))
        feats[name] = Guarded(ds, path, E, finite=True)
    if not any(v is not None for v in feats.values()):
        raise E(path, "/volumes, /mfcc, /energy_db", "at least one of them", "none")
    return AcousticFile(path=path, file=f, schema_version=version, params=params, frequencies=freqs,
                        frame_sample_index=fsi, frame_time=ft, coverage=cov, grid=grid,
                        session_path=str(f.attrs.get("session_path", "")),
                        session_sha256=str(f.attrs.get("session_time_data_sha256", "")), **feats)


def session_pairs(specs) -> list[tuple[Path, Path]]:
    """(session, acoustic file) pairs from session files and folders of them (a folder's
    ``*.h5`` files, acoustic files left out); every session needs its acoustic file beside it."""
    out = []
    for spec in specs:
        p = Path(spec)
        if not p.exists():
            raise AcamError(f"{p}: no such session file or folder")
        files = sorted(q for q in p.glob("*.h5") if not is_acoustic_path(q)) if p.is_dir() else [p]
        for f in files:
            a = acoustic_path_for(f)
            if not a.exists():
                raise AcamError(f"{a}: missing: run `acam beamform {f}` first (the models train on its MFCC images)")
            out.append((f, a))
    if not out:
        raise AcamError(f"{', '.join(map(str, specs))}: expected session files (.h5) or folders of them, found none")
    return out
