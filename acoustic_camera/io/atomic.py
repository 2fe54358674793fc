"""Crash-safe output files: written under a temporary name beside the target and renamed only
when complete, so an interrupted or failed writer never leaves a file that looks finished.

Every acam writer that produces a finished file goes through :func:`atomic_output` (acoustic
files, imported sessions, videos, pictures, plots, layouts, embeddings, checkpoints). Session
capture is the one exception by design: it writes in place in SWMR mode so that a killed capture
keeps every flushed second, and marks completeness with ``closed_cleanly``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from ..errors import AcamError, DiskError


def partial_path(path: str | Path) -> Path:
    """The temporary name of ``path`` while it is written: ``NAME.partial.SUFFIX`` (the suffix
    kept, so that writers choosing a format by extension, e.g. ffmpeg or OpenCV, still can)."""
    p = Path(path)
    return p.with_name(f"{p.stem}.partial{p.suffix}")


def final_name(path: str | Path) -> Path:
    """The file a temporary ``NAME.partial.SUFFIX`` (:func:`~acoustic_camera.io.atomic.partial_path`)
    becomes, ``NAME.SUFFIX``; any other path is its own final name."""
    p = Path(path)
    return p.with_name(p.stem[: -len(".partial")] + p.suffix) if p.stem.endswith(".partial") else p


def check_output(path: str | Path, overwrite: bool = False, inputs=()) -> Path:
    """Refuse an output that exists (unless ``overwrite``), is a directory, or is one of the
    ``inputs``; returns it as a Path. Called before any work, so a refusal costs nothing."""
    p = Path(path)
    if p.is_dir():
        raise AcamError(f"{p}: is a directory, expected an output file name")
    if p.exists() and not overwrite:
        raise AcamError(f"{p}: file exists (pass --overwrite to replace it)")
    for q in inputs:
        if q is not None and p.resolve() == Path(q).resolve():
            raise AcamError(f"{p}: the output would overwrite its own input")
    return p


@contextlib.contextmanager
def atomic_output(path: str | Path, *, overwrite: bool = False, inputs=()) -> Iterator[Path]:
    """``with atomic_output(out) as tmp: write(tmp)``: ``tmp`` becomes ``out`` when the block
    completes and is removed if it raises (also on KeyboardInterrupt). The parent folder is
    created; a stale temporary file from an earlier crash is replaced. An OS error of its own
    (a read-only or full disk, a parent that is a file) is a :class:`DiskError` naming ``path``."""
    out = check_output(path, overwrite, inputs)
    tmp = partial_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise DiskError(out, exc) from None
    try:
        yield tmp
        if not tmp.exists():
            raise AcamError(f"{out}: the writer produced no file")
        try:
            _fsync(tmp)
            os.replace(tmp, out)
        except OSError as exc:
            raise DiskError(out, exc) from None
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the error that ended the write is the one to see
            pass
        raise


def _fsync(path: Path) -> None:
    # the rename must not reach the disk before the data does
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
