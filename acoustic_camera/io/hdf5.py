"""HDF5 helpers shared by the file-format owners (:mod:`.session`, :mod:`.acoustic`): opening
a file and checking its schema header and datasets, each failure one line naming the file, the
field, what was expected and what was found."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..errors import AcamError, FileFormatError as AcamFileError


SWMR_READ_ATTEMPTS = 20
"""Checksummed-metadata reads tried before a SWMR reader gives up. HDF5's default (100) backs off
exponentially from 1 ns, so a damaged file would be retried for ever; 20 tries wait ~2 ms in all,
ample for a writer's flush in progress (the reader's own bounded retry covers the rest)."""
SWMR_OPEN_TRIES = 5
MAX_OBJECTS = 4096
"""Most groups and datasets an acam file may hold (the largest has ~30): a reader's walk stops there."""


def _libhdf5():
    # h5py does not wrap H5Pset_metadata_read_attempts; the library it loaded does
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({ln.split()[-1] for ln in maps if "libhdf5" in ln and "_hl" not in ln and ".so" in ln})
        lib = ctypes.CDLL(libs[0]) if libs else ctypes.CDLL(None)
        fn = lib.H5Pset_metadata_read_attempts
    except (OSError, AttributeError, IndexError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int64, ctypes.c_uint], ctypes.c_int
    return fn


def _open_swmr(path: Path) -> h5py.File:
    """SWMR read access with a bounded number of metadata read attempts (see
    :data:`SWMR_READ_ATTEMPTS`)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    setter = _libhdf5()
    if setter is None or setter(fapl.id, SWMR_READ_ATTEMPTS) < 0:
        # without the bound a damaged file could retry for ever: refuse instead
        raise OSError("cannot bound HDF5's SWMR read attempts on this build of h5py")
    fid = h5py.h5f.open(str(path).encode(), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


def open_h5(path: Path, error: type, what: str, swmr_fallback: bool = False) -> tuple[h5py.File, bool]:
    """Open ``path`` read-only; ``(file, opened_after_crash)``. Never blocks: a file is opened
    normally; only one whose writer is still writing or died (HDF5's consistency flags set) is
    opened, with ``swmr_fallback``, through SWMR read access with bounded metadata retries, tried
    :data:`SWMR_OPEN_TRIES` times. A file that stores data outside itself (external raw
    storage, external links, virtual datasets) is refused: acam never writes one, and reading
    it would read whatever file it names."""
    if not path.exists():
        raise AcamError(f"{path}: no such file (expected {what})")
    if path.is_dir():
        raise AcamError(f"{path}: is a directory, expected {what}")
    try:
        if not h5py.is_hdf5(path):
            raise error(path, "file", what, "a file that is not HDF5")
    except OSError as exc:
        raise error(path, "file", what, f"an unreadable file ({exc.strerror or exc})") from None
    try:
        f, after_crash = h5py.File(path, "r"), False
    except (OSError, RuntimeError, ValueError) as exc:
        msg = str(exc)
        if "truncated" in msg:
            raise error(path, "file", "a complete HDF5 file", "a truncated file (copy cut short?)") from None
        if not swmr_fallback or ("already open for write" not in msg and "consistency flags" not in msg):
            raise error(path, "file", "a readable HDF5 file", _short(msg)) from None
        f = None
        for attempt in range(SWMR_OPEN_TRIES):
            try:
                f, after_crash = _open_swmr(path), True
                break
            except (OSError, RuntimeError, ValueError) as exc2:
                msg = str(exc2)
                time.sleep(0.05 * (attempt + 1))
        if f is None:
            raise error(path, "file", "a readable HDF5 file (it is being written, or its writer died)",
                        f"{_short(msg)} after {SWMR_OPEN_TRIES} tries") from None
    try:
        check_contained(f, path, error)
    except BaseException:
        f.close()
        raise
    return f, after_crash


def _short(msg: str) -> str:
    """h5py's message without its error-stack detail, one line."""
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= 200 else msg[:197] + "..."


def check_contained(f: h5py.File, path: Path, error: type) -> None:
    """Refuse a file whose data lives outside it: external links, external raw storage, virtual
    datasets (any of these could make a reader read another file, /etc/passwd included)."""
    seen = 0
    stack = [("", f)]
    try:
        while stack:
            prefix, g = stack.pop()
            for name in g:
                seen += 1
                if seen > MAX_OBJECTS:
                    raise error(path, "file", f"at most {MAX_OBJECTS} groups and datasets", "more")
                link = g.get(name, getlink=True)
                where = f"{prefix}/{name}"
                if isinstance(link, h5py.ExternalLink):
                    raise error(path, where, "data inside the file",
                                f"an external link to {link.filename}:{link.path} (refused: acam reads no other file)")
                if isinstance(link, h5py.SoftLink):
                    continue  # points inside the file, at something the walk visits anyway
                obj = g[name]
                if isinstance(obj, h5py.Group):
                    stack.append((where, obj))
                elif isinstance(obj, h5py.Dataset):
                    if obj.is_virtual:
                        raise error(path, where, "data inside the file",
                                    "a virtual dataset (refused: acam reads no other file)")
                    if obj.external:
                        raise error(path, where, "data inside the file",
                                    f"external raw storage in {obj.external[0][0]!r} (refused: acam reads no other file)")
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise error(path, "file", "readable HDF5 metadata", f"damaged metadata ({_short(exc)})") from None


def read(ds, sel, path: Path, error: type, field: str | None = None):
    """``ds[sel]``, with a damaged chunk (a bad gzip stream, a checksum, a cut file) reported in
    one line naming the file and the dataset instead of h5py's traceback."""
    try:
        return ds[sel]
    except (OSError, RuntimeError, KeyError) as exc:
        raise error(path, field or ds.name, "readable data", f"damaged data ({_short(exc)})") from None


class Guarded:
    """An h5py dataset whose reads go through :func:`read` and, with ``finite``, are refused when
    they hold NaN or inf (a hand-edited file: every output would inherit them); everything else
    is the dataset's."""

    def __init__(self, ds, path: Path, error: type, finite: bool = False):
        self._ds, self._path, self._error, self._finite = ds, path, error, finite

    def __getitem__(self, sel):
        x = read(self._ds, sel, self._path, self._error)
        if self._finite and isinstance(x, np.ndarray) and x.dtype.kind == "f" and not np.isfinite(x).all():
            raise self._error(self._path, self._ds.name, "finite values", f"NaN or inf in the part read ({sel!r:.60})")
        return x

    def __len__(self) -> int:
        return len(self._ds)

    def __array__(self, dtype=None, copy=None):
        a = read(self._ds, (), self._path, self._error)
        return a if dtype is None else a.astype(dtype)

    def __getattr__(self, name):
        return getattr(self._ds, name)


def metadata_errors(path: Path, error: type):
    """A context in which any of h5py's exceptions while reading a file's metadata becomes one
    line naming the file (a damaged object header, attribute or link)."""
    return _MetadataErrors(path, error)


class _MetadataErrors:
    def __init__(self, path, error):
        self.path, self.error = path, error

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, (OSError, RuntimeError, KeyError)) and \
                not isinstance(exc, AcamError):
            raise self.error(self.path, "file", "readable HDF5 metadata", f"damaged metadata ({_short(exc)})") from None
        return False


def stored_rows(ds) -> int:
    """How many leading rows of a dataset the file actually stores (a hand-edited or cut file
    may declare far more than it holds; reading those would return fill values for hours)."""
    n = ds.shape[0] if ds.shape else 0
    if n == 0:
        return 0
    layout = ds.id.get_create_plist().get_layout()
    if layout == h5py.h5d.CHUNKED:
        try:
            allocated = ds.id.get_num_chunks()
        except (AttributeError, RuntimeError, OSError):
            return n
        per_row = 1
        for size, c in zip(ds.shape[1:], ds.chunks[1:]):
            per_row *= -(-size // c)
        return min(n, (allocated // max(per_row, 1)) * ds.chunks[0])
    if layout == h5py.h5d.CONTIGUOUS:
        row = ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64))
        return min(n, ds.id.get_storage_size() // max(row, 1))
    return n


def schema_version(f: h5py.File, path: Path, error: type, name: str, newest: int) -> int:
    """Check the root attributes ``acam_schema`` == name and ``acam_schema_version`` <= newest."""
    a = f.attrs
    schema = a.get("acam_schema")
    if schema != name:
        raise error(path, "root attribute acam_schema", f"'{name}'", repr(schema))
    try:
        raw = a["acam_schema_version"]
        version = int(raw)
        if isinstance(raw, (str, bytes)) or version != raw:
            raise ValueError
    except (KeyError, TypeError, ValueError, OverflowError):
        raise error(path, "root attribute acam_schema_version", "an integer", repr(a.get("acam_schema_version"))) from None
    if version > newest:
        raise error(path, "root attribute acam_schema_version",
                    f"<= {newest} (this acam is {__version__}; upgrade acam to read it)", str(version))
    if version < 1:
        raise error(path, "root attribute acam_schema_version", ">= 1", str(version))
    return version


def dataset(f: h5py.File, path: Path, error: type, name: str, ndim: int, dtype=None, tail=None) -> h5py.Dataset:
    """The dataset ``/name``: ``ndim`` dimensions, shape ``(n, *tail)`` when ``tail`` is given,
    and dtype ``dtype`` when given (a numpy kind letter such as 'f' accepts any float)."""
    def kind_ok(dt):
        if dtype is None:
            return True
        if isinstance(dtype, str) and dtype.isalpha() and dtype.islower() and len(dtype) <= 4:
            return dt.kind in dtype
        return dt == np.dtype(dtype)

    def dtype_name():
        if dtype is None:
            return "any"
        if isinstance(dtype, str) and dtype.isalpha() and dtype.islower():
            return {"f": "float", "i": "integer", "iu": "integer", "b": "bool", "biu": "bool or integer",
                    "fiu": "numeric"}.get(dtype, f"numpy kind {dtype}")
        return np.dtype(dtype).name

    if name not in f:
        raise error(path, f"/{name}", f"a {ndim}-D dataset ({dtype_name()})", "nothing")
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise error(path, f"/{name}", "a dataset", "a group")
    if ds.ndim != ndim or (tail is not None and tuple(ds.shape[1:]) != tuple(tail)) or not kind_ok(ds.dtype):
        shape = f"shape (n{''.join(', ' + str(t) for t in tail)})" if tail is not None else f"{ndim} dimensions"
        raise error(path, f"/{name}", f"{dtype_name()} with {shape}", f"{ds.dtype} {ds.shape}")
    return ds


def schema_of(path: Path) -> str | None:
    """The ``acam_schema`` root attribute of an HDF5 file, or None (not HDF5, unreadable, none).
    Never blocks: opened like :func:`open_h5`."""
    try:
        if not Path(path).is_file() or not h5py.is_hdf5(path):
            return None
        f, _ = open_h5(Path(path), AcamFileError, "an HDF5 file", swmr_fallback=True)
        with f:
            v = f.attrs.get("acam_schema")
            return None if v is None else str(v)
    except (OSError, RuntimeError, ValueError, KeyError, AcamError):  # the reader will say which
        return None
