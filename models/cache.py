"""The on-disk cache of what every run on one dataset computes alike, so that it is computed once
per dataset, not once per batch, epoch and run.

Under a root folder (a dataset's ``.cache/``, see :func:`cache_root`):

- ``audio/<session>.mic<M>.<rate>.npy``: one microphone of a session, resampled to the
  students' rate (read memory-mapped);
- ``frames/<backbone>-<size>/<session>.npz``: a frozen ResNet-50 backbone's 2048-d features of
  video frames, by frame index;
- ``teacher/<checkpoint>-<layer>/<session>.npz``: a frozen teacher's outputs per clip, by (first
  frame, frames).

``<session>`` is the session's file name and a digest of its size and modification time (a remade
session misses instead of meeting stale entries); ``<backbone>`` digests the weights and buffers
(a random backbone calibrated on other frames is another backbone), ``<checkpoint>`` the
checkpoint file. Entries hold exactly what the computation returns (float32, no rounding), so a run
gives the same figures with the cache, without it, and from a cache another run filled. Files are
written whole and renamed into place; a crash leaves the previous file or none.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_output
from ..io.dataset import find_split

CACHE_DIR = ".cache"
NO_CACHE = "none"


def cache_root(sessions, given: str | None = None, split=None) -> Path | None:
    """Where a run keeps its cache: ``given`` (``"none"``: nowhere), else the ``.cache`` folder
    beside the run's split file (``split``, or the ``split.json`` of the dataset the sessions
    belong to), else nowhere."""
    if given:
        return None if given == NO_CACHE else Path(given)
    split = split or find_split([str(s) for s in sessions])
    return Path(split).parent / CACHE_DIR if split else None


def session_id(path) -> str:
    p = Path(path)
    st = p.stat()
    return f"{p.name}.{hashlib.sha256(f'{st.st_size}:{st.st_mtime_ns}'.encode()).hexdigest()[:12]}"


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def state_digest(module, skip: tuple[str, ...] = ()) -> str:
    """A digest of a torch module's parameters and buffers (names, shapes, dtypes, values), but
    those whose names start with one of ``skip``."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        if name.startswith(skip):
            continue
        a = t.detach().cpu().contiguous().numpy()
        h.update(f"{name}{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


class SessionArrays:
    """Arrays keyed by (session, key string), kept in memory and, when ``folder`` is not None, in
    one ``.npz`` per session there: a session's file is read on its first use and written by
    :meth:`flush` when new entries were added."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None
        self._data: dict[str, dict[str, np.ndarray]] = {}
        self._ids: dict[str, str] = {}
        self._dirty: set[str] = set()

    def _entries(self, session) -> dict[str, np.ndarray]:
        s = str(session)
        if s not in self._data:
            self._data[s] = {}
            if self.folder is not None:
                self._ids[s] = session_id(s)
                f = self.folder / f"{self._ids[s]}.npz"
                if f.is_file():
                    try:
                        with np.load(f) as z:
                            self._data[s] = {k: z[k] for k in z.files}
                    except (OSError, ValueError, EOFError):
                        pass  # unreadable: computed again and rewritten
        return self._data[s]

    def get(self, session, key: str) -> np.ndarray | None:
        return self._entries(session).get(key)

    def put(self, session, key: str, value: np.ndarray) -> None:
        self._entries(session)[key] = np.asarray(value)
        self._dirty.add(str(session))

    def flush(self) -> None:
        if self.folder is None:
            self._dirty.clear()
            return
        for s in sorted(self._dirty):
            with atomic_output(self.folder / f"{self._ids[s]}.npz", overwrite=True) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **self._data[s])
        self._dirty.clear()


def cached_audio(root: Path | None, session, mic: int, rate: int, compute) -> np.ndarray:
    """A session's microphone ``mic`` at ``rate`` Hz: ``compute()`` once, then read (memory-mapped)
    from ``root/audio``; without a root, ``compute()``."""
    if root is None:
        return compute()
    f = Path(root) / "audio" / f"{session_id(session)}.mic{mic}.{rate}.npy"
    if f.is_file():
        try:
            return np.load(f, mmap_mode="r")
        except (OSError, ValueError):
            pass
    x = np.ascontiguousarray(compute(), dtype=np.float32)
    with atomic_output(f, overwrite=True) as tmp:
        with open(tmp, "wb") as out:
            np.save(out, x)
    return x
