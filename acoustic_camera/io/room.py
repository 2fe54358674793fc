"""Failing well when the disk fills up, for the HDF5 writers (:class:`.session.SessionWriter`,
:class:`.acoustic.AcousticWriter`): room claimed on the disk ahead of HDF5's writes, so that a
full disk is met between writes and never inside HDF5, and a close after a failed write that
writes nothing more and cannot crash the process."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class NoRoom(OSError):
    """The disk cannot give what the next write needs (raised before HDF5 is asked to write
    it: the file is whole and can still be closed)."""


class Room:
    """Disk space claimed ahead of an open HDF5 file's writes, so that a full disk is met
    here, between writes, and never inside HDF5: HDF5 2.0 meeting ENOSPC while it flushes
    its metadata is left unable to flush or close the file ever after (a crash at exit).

    Before each write :meth:`ensure` has the file system allocate, past the end of the file
    and without changing its size (``fallocate`` with ``FALLOC_FL_KEEP_SIZE``), room for the
    write (its bytes before compression), for what HDF5 may still hold in its chunk caches
    (what each dataset was :meth:`handed` since the last flush, up to a cache's size) and a
    margin for metadata; it raises :class:`NoRoom` when the disk has not that
    much, and the room claimed before still takes what a proper close writes. Where the file
    system cannot claim space (not Linux, or no fallocate) it does nothing. :meth:`release`
    gives back what the closed file did not use."""

    MARGIN = 1 << 20
    CHUNK_CACHE = 1 << 20  # HDF5's default chunk cache per dataset, the one h5py files get
    _fallocate = None

    def __init__(self, f, path):
        self.f, self.path = f, Path(path)
        self.until = 0  # [0, until) of the file is allocated on the disk
        self.pending: dict = {}  # bytes handed to each dataset since HDF5 last flushed
        self.enabled = self._libc_fallocate() is not None

    @classmethod
    def _libc_fallocate(cls):
        if cls._fallocate is None:
            try:
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).fallocate
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
                fn.restype = ctypes.c_int
                cls._fallocate = (fn, ctypes)
            except (OSError, AttributeError):
                cls._fallocate = False
        return cls._fallocate or None

    def ensure(self, nbytes: int = 0) -> None:
        """Room for ``nbytes`` more, or :class:`NoRoom`."""
        if not self.enabled:
            return
        fd = self.f.id.get_vfd_handle()
        end = max(self.f.id.get_filesize(), os.fstat(fd).st_size)  # HDF5's end of allocation
        cached = sum(min(n, self.CHUNK_CACHE) for n in self.pending.values())
        target = end + cached + int(nbytes) + self.MARGIN
        if target <= self.until:
            return
        fn, ctypes = self._libc_fallocate()
        if fn(fd, 1, self.until, target - self.until) == 0:  # 1: FALLOC_FL_KEEP_SIZE
            self.until = target
            return
        err = ctypes.get_errno()
        if err in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENODEV):
            self.enabled = False
            return
        raise NoRoom(err, os.strerror(err), str(self.path))

    def handed(self, key, nbytes: int) -> None:
        self.pending[key] = self.pending.get(key, 0) + int(nbytes)

    def flushed(self) -> None:
        """After HDF5 flushed: its caches are empty, and it may have cut the file to its end
        of allocation, which frees what was claimed past it."""
        self.pending.clear()
        try:
            self.until = min(self.until, os.fstat(self.f.id.get_vfd_handle()).st_size)
        except Exception:
            self.until = 0

    @staticmethod
    def release(path) -> None:
        """Give back the space claimed past the end of the closed file at ``path``."""
        try:
            os.truncate(path, os.path.getsize(path))
        except OSError:
            pass


def close_after_failure(f) -> None:
    """Close an h5py file after a write failed, writing nothing more to it. HDF5 would retry the
    failed writes of its cache on closing, fail again and keep the file open, and its objects
    would then be torn down in the wrong order at exit (a segmentation fault). Its descriptor is
    pointed at /dev/null first, so the file on disk stays as its last successful write left it."""
    if f is None:
        return
    try:
        if f.id.valid:
            fd = f.id.get_vfd_handle()
            nul = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(nul, fd)
            finally:
                os.close(nul)
    except Exception:  # not a POSIX file descriptor (another driver): close as it is
        pass
    try:
        f.close()
    except Exception:
        pass
