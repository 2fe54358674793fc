"""HDF5 helpers shared by the file-format owners (:mod:`.session`, :mod:`.acoustic`): opening
a file and checking its schema header and datasets, each failure one line naming the file, the
field, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..errors import AcamError


def open_h5(path: Path, error: type, what: str, swmr_fallback: bool = False) -> tuple[h5py.File, bool]:
    """Open ``path`` read-only; ``(file, opened_after_crash)``. With ``swmr_fallback`` a file
    whose writer died (consistency flags still set) opens through SWMR read access."""
    if not path.exists():
        raise AcamError(f"{path}: no such file (expected {what})")
    if path.is_dir():
        raise AcamError(f"{path}: is a directory, expected {what}")
    if not h5py.is_hdf5(path):
        raise error(path, "file", what, "a file that is not HDF5")
    try:
        return h5py.File(path, "r"), False
    except (OSError, RuntimeError) as exc:
        msg = str(exc)
        if "truncated" in msg:
            raise error(path, "file", "a complete HDF5 file", "a truncated file (copy cut short?)") from None
        if not swmr_fallback or ("already open for write" not in msg and "consistency flags" not in msg):
            raise error(path, "file", "a readable HDF5 file", msg) from None
    try:
        return h5py.File(path, "r", libver="latest", swmr=True), True
    except (OSError, RuntimeError) as exc:
        raise error(path, "file", "a readable HDF5 file", str(exc)) from None


def schema_version(f: h5py.File, path: Path, error: type, name: str, newest: int) -> int:
    """Check the root attributes ``acam_schema`` == name and ``acam_schema_version`` <= newest."""
    a = f.attrs
    schema = a.get("acam_schema")
    if schema != name:
        raise error(path, "root attribute acam_schema", f"'{name}'", repr(schema))
    try:
        version = int(a["acam_schema_version"])
    except (KeyError, TypeError, ValueError):
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
        if isinstance(dtype, str) and len(dtype) == 1:
            return dt.kind == dtype
        return dt == np.dtype(dtype)

    def dtype_name():
        if dtype is None:
            return "any"
        return {"f": "float", "i": "integer", "b": "bool"}.get(dtype, None) or np.dtype(dtype).name

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
    """The ``acam_schema`` root attribute of an HDF5 file, or None (not HDF5, unreadable, none)."""
    try:
        if not Path(path).is_file() or not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            v = f.attrs.get("acam_schema")
            return None if v is None else str(v)
    except (OSError, RuntimeError, ValueError):  # h5py's words for a damaged file; the reader will say which
        return None
