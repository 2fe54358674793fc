"""Where compiled Numba kernels are kept: in the user's cache directory, never inside the
installed package (which may be read-only, shared, or wiped by a reinstall).

``cached(dispatcher)`` gives one ``@numba.njit`` function a disk cache there, leaving every
other Numba function and Numba's own settings as they were (nothing is set process-wide). The
directory is ``$ACAM_CACHE_DIR`` if set, else the platform's user cache dir (``$XDG_CACHE_HOME``
or ``~/.cache`` on Linux) + ``/acam/numba``. Numba keys each entry on the function's source file and
the CPU it was compiled for, so one directory serves several machines; ``depends`` names further
source files whose change must also invalidate the entry (code generators the function calls). Without a writable
directory the function simply compiles in memory, once per process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """The directory acam's compiled kernels are cached in (read from the environment each time)."""
    env = os.environ.get("ACAM_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "acam" / "numba"


def _cache_class():
    # Numba's cache classes are not public API: built once, and if they ever change shape, the
    # kernels just compile in memory as they would without a cache
    from numba.core import caching

    class Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))
            self._depends = tuple(getattr(py_func, "_acam_depends", ()))

        def get_source_stamp(self):
            own = super().get_source_stamp()
            return (own, *((os.stat(f).st_mtime, os.stat(f).st_size) for f in self._depends)) if self._depends else own

        def get_cache_path(self):
            return self._cache_path

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [Locator]

    class Cache(caching.FunctionCache):
        _impl_class = Impl

    return Cache


def cached(dispatcher=None, *, depends=()):
    """Give a Numba dispatcher a disk cache in :func:`cache_dir`; returns it. A decorator, bare
    or as ``@cached(depends=(path, ...))``."""
    if dispatcher is None:
        return lambda d: cached(d, depends=depends)
    try:
        dispatcher.py_func._acam_depends = tuple(str(p) for p in depends)
        dispatcher._cache = _cache_class()(dispatcher.py_func)
    except Exception:  # no writable cache dir, or another Numba: compile in memory instead
        pass
    return dispatcher
