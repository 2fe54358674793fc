"""The session file (HDF5, schema v1): one recording of an acoustic camera, real or simulated.

Layout (see README "Session file"):

    /time_data              float32 (samples, channels), attr sample_freq   <- Acoular's TimeSamples layout
    /audio_gaps             int64 (K, 2): start sample, length of each gap (lost audio, zero-filled)
    /video/frames           uint8 (frames, H, W, 3) RGB, one gzip chunk per frame; or, in v3 files
                            written with video_format="jpeg" (`acam dataset make --keep training`):
    /video/jpeg             uint8 (bytes,): the frames' JPEG files one after another, and
    /video/jpeg_index       int64 (frames, 2): each frame's offset and length in /video/jpeg
    /video/sample_index     int64 (frames,): the frame's timestamp on the audio clock (sample index)
    /video/time             float64 (frames,): the same in seconds (sample_index / sample_freq)
    /array/positions        float64 (channels, 3) microphone positions, array frame, metres
    /array/names            str (channels,)
    /array/bad              bool (channels,)
    /camera                 attrs: width height fx fy cx cy distortion rotation translation
    /truth/...              simulated sessions only: position, pixel, visible, active, level_db per
                            frame and source, on the analysed window (attributes say which)
    root attrs              acam_schema, acam_schema_version, software_version, device, scenario,
                            label, subject, video_fps, created_utc, closed_cleanly, stop_reason, extra_json

The writer streams with bounded memory and keeps the file readable at every moment: it writes
in HDF5's single-writer/multiple-reader (SWMR) mode and flushes at least once per second, so a
capture killed even by SIGKILL leaves a file holding every flushed second. ``closed_cleanly``
is set only after the writer has closed the file normally.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..array.camera import Camera
from ..array.geometry import ArrayGeometry
from ..errors import AcamError, DiskError, SessionFormatError, os_errno, os_error_line
from .. import options
from .atomic import partial_path
from .atomic import final_name
from .room import NoRoom, Room, close_after_failure
from .hdf5 import dataset, metadata_errors, open_h5, read, schema_version, stored_rows

SCHEMA_NAME = "acam-session"
SCHEMA_VERSION = 3
"""v3: the video may be stored as JPEG (``/video/jpeg``); v2: ``/truth`` describes each frame's
analysed window (its attributes say which) and holds ``level_db``; v1 files (truth over
[s_k, s_k+1) of the dry source signal) still read."""
VIDEO_FORMATS = ("raw", "jpeg")
TRUTH_WINDOW_ATTRS = ("window_samples", "window_alignment", "window", "active_threshold_db", "levels_pa")
AUDIO_CHUNK_ROWS = 1024
METADATA_KEYS = ("device", "scenario", "label", "subject")
MAX_ABS_SAMPLE = 1e12
"""Largest sample magnitude read as sound: far above any converter's raw counts (2^31) or any
pressure in air (1e5 Pa), and small enough that a frame's power stays finite in float32."""
_CAMERA_KEYS = ("width", "height", "fx", "fy", "cx", "cy", "distortion", "rotation", "translation")


class SessionWriter:
    """Streams a session to an HDF5 file.

    Use as a context manager; write audio blocks with :meth:`write_audio` and video frames with
    :meth:`write_frames` in any interleaving. Leaving the block normally closes the file cleanly;
    leaving it by KeyboardInterrupt also closes cleanly with the reason recorded; any other
    exception closes the file without the clean flag. ``n_samples``/``n_frames`` stay readable
    after closing.

    A full disk is met before HDF5 meets it (:class:`.room.Room`), and then, like any write that
    fails (an I/O error), it closes the file and raises :class:`~acoustic_camera.errors.DiskError`
    naming the file: a session written in place (a capture) never stays under its name then,
    but what was flushed is kept as ``NAME.partial.h5`` (cut back to the last flush; a file
    nothing was flushed to is removed); a session written under a temporary name
    (``final_path``, or a ``NAME.partial.h5`` path from
    :func:`~acoustic_camera.io.atomic.atomic_output`) is removed and the error names the final
    file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sample_freq: float,
        geometry: ArrayGeometry,
        camera: Camera,
        video_fps: float,
        metadata: dict | None = None,
        source_labels: tuple[str, ...] | None = None,
        truth_attrs: dict | None = None,
        overwrite: bool = False,
        flush_interval: float = 1.0,
        video_format: str = "raw",
        jpeg_quality: int = 90,
        final_path: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        # the name errors give: the file this one becomes when it is written under a temporary name
        self.final_path = Path(final_path) if final_path is not None else final_name(self.path)
        self._temporary = self.final_path != self.path
        self._f = None
        self._room = None
        self._closed = False
        self._written = 0  # samples appended
        self._flushed = 0  # samples on disk for sure (flushed)
        self._final = (0, 0)
        if self.path.exists() and not overwrite:
            raise AcamError(f"{self.path}: file exists (pass --overwrite / overwrite=True to replace it)")
        if video_format not in VIDEO_FORMATS:
            raise AcamError(f"video format: expected one of {', '.join(VIDEO_FORMATS)}, found {video_format!r}")
        if not 1 <= jpeg_quality <= 100:
            raise AcamError(f"JPEG quality: expected 1 to 100, found {jpeg_quality}")
        self.video_format, self.jpeg_quality = video_format, int(jpeg_quality)
        if sample_freq <= 0 or video_fps <= 0:
            raise AcamError("sample_freq and video_fps must be positive")
        if self.path.exists():
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sample_freq = float(sample_freq)
        self.n_channels = geometry.n_mics
        self.flush_interval = flush_interval
        md = dict(metadata or {})
        try:
            self._create(geometry, camera, video_fps, md, source_labels, truth_attrs)
        except BaseException as exc:
            self._fail(exc)
        self._last_flush = time.monotonic()
        self._unflushed = 0

    def _create(self, geometry, camera, video_fps, md, source_labels, truth_attrs) -> None:
        # the file and its fixed parts; a failure here leaves no file behind (see __init__)
        self._f = f = h5py.File(self.path, "w", libver="latest")
        self._room = Room(f, self.path)
        self._room.ensure()  # the fixed parts fit the margin
        a = f.attrs
        a["acam_schema"] = SCHEMA_NAME
        a["acam_schema_version"] = SCHEMA_VERSION
        a["software_version"] = __version__
        a["created_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        a["video_fps"] = float(video_fps)
        for k in METADATA_KEYS:
            a[k] = str(md.pop(k, ""))
        a["extra_json"] = json.dumps(md, sort_keys=True, default=str)
        a["closed_cleanly"] = 0  # an integer: PyTables (Acoular) warns on HDF5 booleans
        a["stop_reason"] = "still writing, or the writer died"

        c = self.n_channels
        self._audio = f.create_dataset(
            "time_data", shape=(0, c), maxshape=(None, c), dtype="float32", chunks=(AUDIO_CHUNK_ROWS, c)
        )
        self._audio.attrs["sample_freq"] = self.sample_freq
        self._gaps = f.create_dataset("audio_gaps", shape=(0, 2), maxshape=(None, 2), dtype="int64", chunks=(256, 2))

        g = f.create_group("array")
        # held open until the file closes: a dataset dropped here writes its buffered data when
        # closed, and on a full disk that failure would go unseen and leave HDF5 a broken object
        self._held = [g.create_dataset("positions", data=geometry.positions),
                      g.create_dataset("names", data=np.array(geometry.names, dtype=h5py.string_dtype())),
                      g.create_dataset("bad", data=geometry.bad)]
        g.attrs["name"] = geometry.name

        cam = f.create_group("camera")
        for k, v in camera.to_dict().items():
            cam.attrs[k] = v
        h, w = camera.height, camera.width
        self._frame_shape = (h, w, 3)
        v = f.create_group("video")
        if self.video_format == "raw":
            self._frames = v.create_dataset(
                "frames", shape=(0, h, w, 3), maxshape=(None, h, w, 3), dtype="uint8",
                chunks=(1, h, w, 3), compression="gzip", compression_opts=1,
            )
            self._frames.attrs["color_order"] = "RGB"
        else:
            # one byte stream and an index, not a variable-length dataset: SWMR cannot append those
            self._jpeg = v.create_dataset("jpeg", shape=(0,), maxshape=(None,), dtype="uint8", chunks=(1 << 16,))
            self._frames = v.create_dataset("jpeg_index", shape=(0, 2), maxshape=(None, 2), dtype="int64", chunks=(4096, 2))
            self._jpeg.attrs["color_order"] = "RGB"
            self._jpeg.attrs["quality"] = self.jpeg_quality
        self._fsi = v.create_dataset("sample_index", shape=(0,), maxshape=(None,), dtype="int64", chunks=(4096,))
        self._ft = v.create_dataset("time", shape=(0,), maxshape=(None,), dtype="float64", chunks=(4096,))

        self._truth = None
        if source_labels is not None:
            s = len(source_labels)
            t = f.create_group("truth")
            t.attrs["labels"] = np.array(source_labels, dtype=h5py.string_dtype())
            t.attrs["scenario"] = a["scenario"]
            t.attrs["frame"] = "array frame: x right, y down, z along the array normal, metres"
            ta = dict(truth_attrs or {})
            missing = [k for k in TRUTH_WINDOW_ATTRS if k not in ta]
            if missing:
                raise AcamError(f"{self.path}: ground truth needs the attributes {', '.join(missing)}")
            for k, v in ta.items():
                t.attrs[k] = v

            def mk(name, tail, dtype):
                return t.create_dataset(name, shape=(0, s, *tail), maxshape=(None, s, *tail), dtype=dtype,
                                        chunks=(256, s, *tail))

            self._truth = {
                "position": mk("position", (3,), "float64"),
                "pixel": mk("pixel", (2,), "float64"),
                "visible": mk("visible", (), "bool"),
                "active": mk("active", (), "bool"),
                "level_db": mk("level_db", (), "float32"),
            }
        # the datasets that grow, and their lengths at the last flush (what a failed write keeps)
        self._growing = [d for d in (self._audio, self._gaps, getattr(self, "_jpeg", None), self._frames, self._fsi,
                                     self._ft, *(self._truth or {}).values()) if d is not None]
        self._sizes = [0] * len(self._growing)
        # From here on the file is always consistent on disk for readers (and after a crash).
        f.swmr_mode = True

    # -- writing ---------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return self._final[0] if self._closed else self._audio.shape[0]

    @property
    def n_frames(self) -> int:
        return self._final[1] if self._closed else self._frames.shape[0]

    @staticmethod
    def _append(ds, data) -> None:
        n = ds.shape[0]
        ds.resize(n + len(data), axis=0)
        ds[n:] = data

    def write_audio(self, block: np.ndarray) -> None:
        """Append (n, channels) samples (converted to float32)."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != self.n_channels:
            raise AcamError(f"{self.path}: audio block must have shape (n, {self.n_channels}), got {block.shape}")
        self._check_open()
        try:
            self._room.ensure(block.nbytes)
            self._append(self._audio, block)
        except Exception as exc:
            self._fail(exc)
        self._room.handed("time_data", block.nbytes)
        self._written += len(block)
        self._unflushed += len(block)
        self._maybe_flush()

    def write_gap(self, start: int, length: int) -> None:
        """Record lost audio: `length` samples starting at sample `start` (already zero-filled)."""
        self._check_open()
        try:
            self._room.ensure(16)
            self._append(self._gaps, np.array([[start, length]], dtype=np.int64))
        except Exception as exc:
            self._fail(exc)
        self._room.handed("audio_gaps", 16)

    def write_frames(self, frames: np.ndarray, sample_index: np.ndarray, truth: dict | None = None) -> None:
        """Append video frames (k, H, W, 3) uint8 RGB with their audio-clock sample indices (k,),
        and, for simulated sessions, their ground truth: a dict of arrays with a leading k axis
        (position (k,S,3), pixel (k,S,2), visible (k,S), active (k,S), level_db (k,S))."""
        frames = np.asarray(frames)
        sample_index = np.atleast_1d(np.asarray(sample_index, dtype=np.int64))
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != self._frame_shape or frames.dtype != np.uint8:
            raise AcamError(f"{self.path}: frames must be uint8 {self._frame_shape}, got {frames.dtype} {frames.shape[1:]}")
        if len(sample_index) != len(frames):
            raise AcamError(f"{self.path}: {len(frames)} frames but {len(sample_index)} timestamps")
        if (self._truth is None) != (truth is None):
            raise AcamError(f"{self.path}: ground truth must be given exactly when the session was opened with source labels")
        self._check_open()
        blobs = self._encode_jpeg(frames) if self.video_format == "jpeg" else None
        handed = {"video": frames.nbytes if blobs is None else blobs[0].nbytes, "index": 32 * len(frames)}
        if truth is not None:
            handed.update((f"truth/{k}", np.asarray(v).nbytes) for k, v in truth.items())
        try:
            self._room.ensure(sum(handed.values()))
            if truth is not None:
                for k, ds in self._truth.items():
                    self._append(ds, np.asarray(truth[k]).reshape((len(frames),) + ds.shape[1:]))
            self._append(self._fsi, sample_index)
            self._append(self._ft, sample_index / self.sample_freq)
            if blobs is None:
                self._append(self._frames, frames)
            else:
                self._append(self._jpeg, blobs[0])
                self._append(self._frames, blobs[1])
        except Exception as exc:
            self._fail(exc)
        for k, n in handed.items():
            self._room.handed(k, n)
        self._maybe_flush()

    def _encode_jpeg(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The frames' JPEG files one after another, and their (offset, length) index rows."""
        import cv2

        at = self._jpeg.shape[0]
        index, blobs = [], []
        for fr in frames:
            memo = getattr(self, "_still", None)
            if memo is not None and memo[0] is fr.base and not fr.flags.writeable:
                buf = memo[1]  # a read-only picture written again (an import's photo): encoded once
            else:
                ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(fr[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
                if not ok:
                    raise AcamError(f"{self.path}: /video/jpeg: OpenCV could not encode a frame as JPEG")
                if not fr.flags.writeable and fr.base is not None:
                    self._still = (fr.base, buf)
            index.append((at, len(buf)))
            blobs.append(buf.ravel())
            at += len(buf)
        return np.concatenate(blobs), np.array(index, np.int64)

    def _maybe_flush(self) -> None:
        if self._unflushed >= self.sample_freq * self.flush_interval or (
            time.monotonic() - self._last_flush >= self.flush_interval
        ):
            self.flush()

    def flush(self) -> None:
        """Make everything written so far durable and visible to readers."""
        self._check_open()
        try:
            self._room.ensure()
            self._f.flush()
        except Exception as exc:
            self._fail(exc)
        self._room.flushed()
        self._flushed = self._written
        self._sizes = [d.shape[0] for d in self._growing]
        self._last_flush = time.monotonic()
        self._unflushed = 0

    # -- closing ---------------------------------------------------------------------------
    def close(self, stop_reason: str = "completed", clean: bool = True, attrs: dict | None = None) -> None:
        """Close the file; with ``clean`` mark it as closed cleanly, recording why it stopped.
        ``attrs``: final root attributes (e.g. capture statistics), JSON-encoded when not plain."""
        if self._closed:
            return
        self.flush()
        final = {"stop_reason": stop_reason}
        for k, v in (attrs or {}).items():
            final[k] = v if isinstance(v, (int, float, str)) else json.dumps(v, default=str)
        if clean:
            final["closed_cleanly"] = 1
        try:
            self._final = (self._audio.shape[0], self._frames.shape[0])
            self._f.close()
            Room.release(self.path)
            # SWMR mode forbids attribute writes, so the clean flag goes in after a normal reopen:
            # a writer dying in between leaves the flag False, which is the truth.
            self._reserve(65536 + 2 * sum(len(str(v)) for v in final.values()))
            self._f = f = h5py.File(self.path, "r+")
            for k, v in final.items():
                f.attrs[k] = v
            # flushed first: a close that fails to write leaves HDF5 half torn down, a flush does not
            f.flush()
            f.close()
        except Exception as exc:
            self._fail(exc)
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise AcamError(f"{self.final_path}: the session file is closed: nothing more can be written to it")

    def _fail(self, exc: BaseException):
        """A write (or the file's creation) failed: close the file writing nothing more to it,
        keep what was flushed (in place: renamed NAME.partial.h5) or remove it, and raise: a
        :class:`DiskError` naming the file for the machine's errors (disk full, I/O, permissions),
        else ``exc`` itself."""
        try:
            self._final = (self._written, self._frames.shape[0])
        except Exception:  # the file is not there, or not whole
            self._final = (self._written, 0)
        self._closed = True
        f = self._f
        if f is not None and f.id.valid:
            if not self._temporary and self._flushed:
                self._trim()  # back to the last flush
            elif isinstance(exc, NoRoom) and self._room.until > 0:
                try:  # met before HDF5 was asked to write: the room claimed before takes the close
                    f.flush()
                    f.close()
                except Exception:
                    pass
        close_after_failure(f)
        fs = getattr(self, "sample_freq", None) or 1.0
        kept = None
        try:
            if self._temporary or self._flushed == 0:
                self.path.unlink(missing_ok=True)
            else:
                Room.release(self.path)
                kept = partial_path(self.path)
                os.replace(self.path, kept)
        except OSError:  # e.g. a read-only file system: the file stays where it is
            kept = self.path if self.path.exists() else None
        if self._temporary or kept is None:
            what = ("" if self._temporary else "nothing was recorded, no file is kept" if not self._written else
                    f"{self._written / fs:.1f} s were written but none flushed, no file is kept")
        else:
            cause = "disk full" if os_errno(exc) in (errno.ENOSPC, errno.EDQUOT) else "writing failed"
            what = (f"{cause} after {self._written / fs:.1f} s; the {self._flushed / fs:.1f} s flushed are kept in "
                    f"{kept}")
        if os_error_line(exc) is not None:
            raise DiskError(self.final_path, exc, what) from exc
        if kept is not None and hasattr(exc, "add_note"):
            exc.add_note(f"{self.final_path}: {what}")
        raise exc

    def _reserve(self, nbytes: int) -> None:
        """Have the disk give ``nbytes`` past the end of the closed file before it is reopened to
        write the closing attributes: HDF5 puts their new metadata there, so a disk that fills
        up now fails here, the file still as the SWMR writer closed it (whole, not marked clean),
        and not halfway through rewriting the file's metadata, which would damage it. HDF5 cuts
        what it does not use when it closes the file."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            end = os.fstat(fd).st_size
            try:
                os.posix_fallocate(fd, end, nbytes)
            except OSError as exc:
                if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    return  # a file system that cannot reserve: written as before
                os.ftruncate(fd, end)
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        finally:
            os.close(fd)

    def _trim(self) -> None:
        """Cut every dataset back to its length at the last flush and close the file, if the disk
        takes that (it needs little new space: the cut chunks are dropped unwritten). A file
        closed so holds exactly what was flushed; else it is left as the failed write left it,
        its datasets possibly longer than what was flushed."""
        try:
            if self._f is not None and self._f.id.valid:
                for d, n in zip(self._growing, self._sizes):
                    if d.shape[0] != n:
                        d.resize(n, axis=0)
                self._f.flush()
                self._f.close()
        except Exception:
            pass

    def __enter__(self) -> "SessionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted (SIGINT)")
        else:
            self.close(f"error: {exc_type.__name__}: {exc}", clean=False)
        return False


# -- reading -------------------------------------------------------------------------------
class WriteBehind:
    """A writer's calls run in order in a thread of their own, so the thread that hands them over
    (a capture's ring reader, a real-time player) never waits for the disk: a flush of a SWMR
    session takes ~0.15 s each second.

    ``put(fn, *args)`` queues ``fn(*args)``; with ``depth`` > 0 it blocks while ``depth`` calls
    wait (a disk slower than that then holds up the caller, whose own buffer overflows and
    counts the loss). After the first error (kept in ``failed``) calls are dropped but still
    taken off the queue, so ``put`` never blocks on a dead writer. ``finish()`` runs what is
    queued, stops the thread, and returns ``failed``."""

    def __init__(self, depth: int = 0, name: str = "acam-writer"):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self.failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            op = self._q.get()
            if op is None:
                return
            if self.failed is None:
                try:
                    op[0](*op[1:])
                except BaseException as exc:
                    self.failed = exc

    def put(self, fn, *args) -> None:
        self._q.put((fn, *args))

    def finish(self, timeout: float | None = None) -> BaseException | None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout)
        return self.failed


@dataclass
class Truth:
    """Ground truth of a simulated session, per video frame and source, describing the stretch
    of sound each frame's acoustic image analyses (``window``: its length, alignment, taper and
    the activity threshold; see :mod:`acoustic_camera.framing`).

    ``level_db`` is the source's direct sound at the array's reference point (the array-frame
    origin) in that window, dB SPL, window-weighted mean square (-inf: silent throughout);
    ``active`` is ``level_db`` above the source's nominal level at its distance plus
    ``window['active_threshold_db']``. Files of schema v1 have ``level_db`` None and ``window``
    None: their activity covered [s_k, s_k+1) of the dry source signal, not the analysed window.
    """

    labels: tuple[str, ...]
    position: np.ndarray  # (frames, S, 3) array frame, metres, at the frame's timestamp
    pixel: np.ndarray  # (frames, S, 2) video pixels (u, v)
    visible: np.ndarray  # (frames, S) inside the picture
    active: np.ndarray  # (frames, S) sounding in the frame's analysed window
    level_db: np.ndarray | None = None  # (frames, S) direct-sound level at the array, dB SPL
    window: dict | None = None  # window_samples, window_alignment, window, active_threshold_db, levels_pa


@dataclass
class Session:
    """An open session file. Audio is read lazily (``audio()``); use as a context manager."""

    path: Path
    file: h5py.File = field(repr=False)
    sample_freq: float
    n_samples: int
    n_channels: int
    geometry: ArrayGeometry
    camera: Camera
    video_fps: float
    frame_sample_index: np.ndarray
    metadata: dict
    closed_cleanly: bool
    stop_reason: str
    schema_version: int
    audio_gaps: np.ndarray
    truth: Truth | None
    opened_after_crash: bool = False
    video_format: str = "raw"  # "jpeg": frames stored as JPEG files, decoded on reading
    frames_past_audio: int = 0
    """Video frames stored after the audio's end (by more than a second): not part of the session."""
    nonfinite: "NonFinite" = field(default_factory=lambda: NonFinite())
    """Non-finite samples met by :meth:`audio` so far (read as 0)."""

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_freq

    @property
    def n_frames(self) -> int:
        return len(self.frame_sample_index)

    @property
    def frame_time(self) -> np.ndarray:
        return self.frame_sample_index / self.sample_freq

    def audio(self, start: int = 0, stop: int | None = None, channel: int | None = None) -> np.ndarray:
        """Samples [start, stop) as float32 (n, channels), or (n,) of one ``channel`` (read
        alone: half the time of reading every channel and picking one).

        Non-finite samples (NaN, +-inf: a broken converter, a hand-edited file), and any beyond
        :data:`MAX_ABS_SAMPLE` (whose power would overflow float32), are read as 0,
        so that the microphone adds nothing to those samples instead of turning every output
        of the frame into NaN; each one read is recorded in :attr:`nonfinite` for the report.
        A damaged chunk is a :class:`SessionFormatError` naming the rows."""
        stop = self.n_samples if stop is None else min(stop, self.n_samples)
        start = max(start, 0)
        sel = np.s_[start:stop] if channel is None else np.s_[start:stop, int(channel)]
        x = read(self.file["time_data"], sel, self.path, SessionFormatError, f"/time_data rows {start}..{stop - 1}")
        # min and max are NaN-propagating, need no temporary, and find inf and absurd values alike
        if x.size and not (-MAX_ABS_SAMPLE <= x.min() and x.max() <= MAX_ABS_SAMPLE):
            bad = ~(np.abs(x) <= MAX_ABS_SAMPLE)
            if bad.any():
                x = np.where(bad, np.float32(0), x)
                rows, chans = np.nonzero(bad.reshape(len(x), -1))
                self.nonfinite.note(start + rows, chans if channel is None else np.full(len(rows), int(channel)))
        return x

    def require_audio(self, what: str) -> None:
        """Refuse, in one line, a session with no audio or no frames for a job that needs both
        (a map of silence would be drawn as a flat, full-scale overlay)."""
        if self.n_samples == 0:
            raise SessionFormatError(self.path, "/time_data", f"audio samples to {what}", "none (0 samples)")
        if self.n_frames == 0:
            raise SessionFormatError(self.path, "/video/sample_index", f"video frames to {what}", "none")

    def frame(self, i: int) -> np.ndarray:
        """Video frame i, uint8 (H, W, 3) RGB."""
        if not 0 <= i < self.n_frames:
            raise AcamError(f"{self.path}: frame {i}: the session has frames 0..{self.n_frames - 1}")
        return self.frames(i, i + 1)[0]

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Video frames [start, stop) as uint8 (n, H, W, 3) RGB, decoded when stored as JPEG."""
        start, stop = max(0, start), min(stop, self.n_frames)
        E = SessionFormatError
        if self.video_format == "raw":
            return read(self.file["video/frames"], np.s_[start:stop], self.path, E, f"/video/frames {start}..{stop - 1}")
        import cv2

        out = np.empty((max(stop - start, 0), self.camera.height, self.camera.width, 3), np.uint8)
        stream = self.file["video/jpeg"]
        for k, (at, n) in enumerate(read(self.file["video/jpeg_index"], np.s_[start:stop], self.path, E)):
            if not (0 <= at and 0 < n and at + n <= stream.shape[0]):
                raise E(self.path, "/video/jpeg_index", f"offsets within the {stream.shape[0]} bytes of /video/jpeg",
                        f"frame {start + k} at bytes {at}..{at + n}")
            img = cv2.imdecode(read(stream, np.s_[at:at + n], self.path, E), cv2.IMREAD_COLOR)
            if img is None or img.shape != out.shape[1:]:
                raise E(self.path, "/video/jpeg", f"a {self.camera.width}x{self.camera.height} JPEG "
                                         f"for frame {start + k}", "bytes OpenCV cannot decode to that")
            out[k] = img[..., ::-1]
        return out

    def time_data_sha256(self) -> str:
        """SHA-256 of ``/time_data`` (float32 rows in order): how acoustic and calibration files
        name the audio they came from."""
        h = AudioHasher()
        step = 65536
        for a in range(0, self.n_samples, step):
            h.update(a, self.audio(a, a + step))
        return h.hexdigest()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NonFinite:
    """Where non-finite samples were met while reading a session's audio: per microphone, the
    number seen and the first and last sample (reads may overlap: a count is of samples read)."""

    def __init__(self):
        self.count: dict[int, int] = {}
        self.span: dict[int, tuple[int, int]] = {}

    def note(self, rows: np.ndarray, chans: np.ndarray) -> None:
        for c in np.unique(chans):
            r = rows[chans == c]
            c = int(c)
            self.count[c] = self.count.get(c, 0) + len(r)
            lo, hi = self.span.get(c, (int(r.min()), int(r.max())))
            self.span[c] = (min(lo, int(r.min())), max(hi, int(r.max())))

    def __bool__(self) -> bool:
        return bool(self.count)

    def summary(self, sample_freq: float) -> str:
        """One line: which microphones, where, and what was done."""
        mics = sorted(self.count)
        where = ", ".join(f"mic {c} ({self.span[c][0] / sample_freq:.3f}-{self.span[c][1] / sample_freq:.3f} s)"
                          for c in mics[:8]) + (" ..." if len(mics) > 8 else "")
        return f"non-finite or absurd samples (NaN, inf, |x| > {MAX_ABS_SAMPLE:g}) on {len(mics)} microphone(s): {where}; read as silence (0)"


class AudioHasher:
    """SHA-256 of /time_data fed by blocks as a pipeline reads them: blocks may overlap or
    repeat (frame windows do); each sample is hashed once, in order. :meth:`missing` tells what
    was never read (read it and :meth:`update` before :meth:`hexdigest`)."""

    def __init__(self):
        self._h = hashlib.sha256()
        self.done = 0

    def update(self, start: int, block: np.ndarray) -> None:
        end = start + len(block)
        if start <= self.done < end:
            self._h.update(np.ascontiguousarray(block[self.done - start:], dtype=np.float32).tobytes())
            self.done = end

    def missing(self, n_samples: int) -> tuple[int, int] | None:
        return (self.done, n_samples) if self.done < n_samples else None

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def open_session(path: str | Path) -> Session:
    """Open and validate a session file. Raises :class:`SessionFormatError` (one line naming
    the file, the field and what was expected) when it does not follow the schema."""
    path = Path(path)
    f, after_crash = open_h5(path, SessionFormatError, "an acam session file (.h5)", swmr_fallback=True)
    try:
        with metadata_errors(path, SessionFormatError):
            return _read(path, f, after_crash)
    except BaseException:
        f.close()
        raise


def _found(v) -> str:
    """A value read from a file, as an error message shows it (short, numbers plain)."""
    if isinstance(v, (np.generic, int, float)) and not isinstance(v, (bytes, np.bytes_)):
        v = v.item() if isinstance(v, np.generic) else v
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


MAX_JSON_ATTR = 1 << 20  # bytes: acam's own are a few hundred


def _json_attr(a, key: str, path: Path) -> dict | None:
    """A root attribute holding a JSON object: refused in one line if it is not one (too long,
    too deep, not an object)."""
    text = a.get(key)
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or len(text) > MAX_JSON_ATTR:
        raise SessionFormatError(path, f"root attribute {key}", f"a JSON object as text (at most {MAX_JSON_ATTR} bytes)",
                                 type(text).__name__ if not isinstance(text, str) else f"{len(text)} characters")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise SessionFormatError(path, f"root attribute {key}", "a JSON object", "unparsable text") from None
    if not isinstance(obj, dict):
        raise SessionFormatError(path, f"root attribute {key}", "a JSON object", type(obj).__name__)
    return obj


def _read(path: Path, f: h5py.File, after_crash: bool) -> Session:
    a = f.attrs
    if a.get("acam_schema") is None and "time_data" in f:
        raise SessionFormatError(path, "root attribute acam_schema", f"'{SCHEMA_NAME}'",
                                 "none (plain Acoular time data, not an acam session)")
    from .acoustic import SCHEMA_NAME as ACOUSTIC_SCHEMA  # here: the acoustic format builds on this one

    if a.get("acam_schema") == ACOUSTIC_SCHEMA:
        raise SessionFormatError(path, "root attribute acam_schema", f"'{SCHEMA_NAME}'",
                                 f"'{ACOUSTIC_SCHEMA}' (an acoustic-image file: give the session it was made from)")
    version = schema_version(f, path, SessionFormatError, SCHEMA_NAME, SCHEMA_VERSION)

    td = dataset(f, path, SessionFormatError, "time_data", 2, np.float32)
    sf = td.attrs.get("sample_freq")
    try:
        sf = options.SAMPLE_RATE(sf.decode("utf-8", "replace") if isinstance(sf, bytes) else sf, "sample_freq")
    except AcamError:
        raise SessionFormatError(path, "/time_data attribute sample_freq", f"the audio rate in Hz, {options.SAMPLE_RATE.describe()}",
                                 _found(sf)) from None
    n_samples, n_ch = td.shape
    clean = bool(a.get("closed_cleanly", False))
    held = stored_rows(td)
    if held < n_samples:
        if clean:
            raise SessionFormatError(path, "/time_data", f"the {n_samples} rows it declares, stored",
                                     f"storage for {held} (a cut or hand-edited file)")
        n_samples = held  # a writer that died between a resize and its write: read what is there

    pos = dataset(f, path, SessionFormatError, "array/positions", 2, "fiu", (3,))
    if pos.shape[0] != n_ch:
        raise SessionFormatError(path, "/array/positions", f"{n_ch} rows, one per channel of /time_data", f"{pos.shape[0]}")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in dataset(f, path, SessionFormatError, "array/names", 1, None)[()]]
    bad = dataset(f, path, SessionFormatError, "array/bad", 1, "biu")[()]
    if len(names) != n_ch or len(bad) != n_ch:
        raise SessionFormatError(path, "/array/names, /array/bad", f"{n_ch} entries", f"{len(names)}, {len(bad)}")
    try:
        geometry = ArrayGeometry(pos[()].astype(np.float64), tuple(names), bad.astype(bool), str(f["array"].attrs.get("name", "array")))
    except AcamError as exc:
        raise SessionFormatError(path, "/array/positions", "a valid microphone layout", str(exc)) from None

    if "camera" not in f:
        raise SessionFormatError(path, "/camera", "a group with the camera model", "nothing")
    missing = [k for k in _CAMERA_KEYS if k not in f["camera"].attrs]
    if missing:
        raise SessionFormatError(path, "/camera attributes", ", ".join(_CAMERA_KEYS), f"missing {', '.join(missing)}")
    try:
        camera = Camera.from_dict({k: f["camera"].attrs[k] for k in _CAMERA_KEYS})
    except AcamError as exc:
        raise SessionFormatError(path, "/camera", "a valid camera model", str(exc)) from None

    if "video/jpeg" in f and version >= 3:
        video_format = "jpeg"
        frames = dataset(f, path, SessionFormatError, "video/jpeg_index", 2, np.int64, (2,))
        stream = dataset(f, path, SessionFormatError, "video/jpeg", 1, np.uint8)
        if frames.shape[0] and int(frames[-1].sum()) > stream.shape[0]:
            raise SessionFormatError(path, "/video/jpeg_index", f"offsets within the {stream.shape[0]} bytes of /video/jpeg",
                                     f"a frame ending at byte {int(frames[-1].sum())}")
    else:
        video_format = "raw"
        frames = dataset(f, path, SessionFormatError, "video/frames", 4, np.uint8)
        if frames.shape[1:] != (camera.height, camera.width, 3):
            raise SessionFormatError(path, "/video/frames", f"uint8 (n, {camera.height}, {camera.width}, 3) as /camera says", str(frames.shape))
    fsi = dataset(f, path, SessionFormatError, "video/sample_index", 1, np.int64)[()]
    n_frames = min(len(fsi), frames.shape[0])
    if clean and (len(fsi) != frames.shape[0]):
        raise SessionFormatError(path, "/video/sample_index", f"{frames.shape[0]} timestamps, one per frame", str(len(fsi)))
    fsi = fsi[:n_frames]
    if n_frames > 1 and np.any(np.diff(fsi) <= 0):
        raise SessionFormatError(path, "/video/sample_index", "strictly increasing sample indices", "a non-increasing sequence")
    # a frame's window may reach past the recording's ends (its coverage says how far), but a
    # timestamp more than a second outside the audio has no sound to show
    slack = int(sf)
    if n_frames and fsi[0] < -slack:
        raise SessionFormatError(path, "/video/sample_index", f"timestamps from -{slack} on (a second before the audio)",
                                 f"frame 0 at sample {int(fsi[0])}")
    # video that ran on after the audio stopped (a device lost, a dying writer): left out, and said
    past = int(np.sum(fsi > n_samples + slack))
    n_frames -= past
    fsi = fsi[:n_frames]

    gaps = dataset(f, path, SessionFormatError, "audio_gaps", 2, "iu", (2,))[()] if "audio_gaps" in f else np.zeros((0, 2), np.int64)
    if len(gaps) and (np.any(gaps[:, 0] < 0) or np.any(gaps[:, 1] < 0) or np.any(gaps[:, 0] > n_samples)):
        raise SessionFormatError(path, "/audio_gaps", f"(start, length) pairs within the {n_samples} samples", "others")

    truth = None
    if "truth" in f:
        t = f["truth"]
        labels = tuple(x.decode() if isinstance(x, bytes) else str(x) for x in t.attrs.get("labels", []))
        s = len(labels)
        names = [("position", (s, 3), "f"), ("pixel", (s, 2), "f"), ("visible", (s,), "biu"), ("active", (s,), "biu")]
        if version >= 2:
            names.append(("level_db", (s,), "f"))
        arrays = {}
        for name, tail, kind in names:
            ds = dataset(f, path, SessionFormatError, f"truth/{name}", 1 + len(tail), kind, tail)
            arrays[name] = read(ds, slice(0, n_frames), path, SessionFormatError)
            if kind == "biu":
                arrays[name] = arrays[name].astype(bool)
            if len(arrays[name]) < n_frames:
                raise SessionFormatError(path, f"/truth/{name}", f"{n_frames} frames", str(len(arrays[name])))
        window = None
        if version >= 2:
            missing = [k for k in TRUTH_WINDOW_ATTRS if k not in t.attrs]
            if missing:
                raise SessionFormatError(path, "/truth attributes", ", ".join(TRUTH_WINDOW_ATTRS), f"missing {', '.join(missing)}")
            window = {k: (t.attrs[k].tolist() if isinstance(t.attrs[k], np.ndarray) else t.attrs[k]) for k in TRUTH_WINDOW_ATTRS}
            window["window_alignment"] = str(window["window_alignment"])
            window["window"] = str(window["window"])
        truth = Truth(labels=labels, window=window, **arrays)

    try:
        fps = options.FPS(a.get("video_fps"), "video_fps")
    except AcamError:
        raise SessionFormatError(path, "root attribute video_fps", f"frames per second, {options.FPS.describe()}",
                                 _found(a.get("video_fps"))) from None

    metadata = {k: str(a.get(k, "")) for k in METADATA_KEYS}
    extra = _json_attr(a, "extra_json", path)
    if extra is not None:
        metadata.update(extra)
    if "capture_stats_json" in a:
        metadata["capture_stats"] = _json_attr(a, "capture_stats_json", path)
    metadata["software_version"] = str(a.get("software_version", ""))
    metadata["created_utc"] = str(a.get("created_utc", ""))

    return Session(
        path=path, file=f, sample_freq=sf, n_samples=n_samples, n_channels=n_ch, geometry=geometry,
        camera=camera, video_fps=fps, frame_sample_index=fsi, metadata=metadata,
        closed_cleanly=clean, stop_reason=str(a.get("stop_reason", "")), schema_version=version,
        audio_gaps=np.asarray(gaps, dtype=np.int64), truth=truth, opened_after_crash=after_crash, frames_past_audio=past,
        video_format=video_format,
    )

