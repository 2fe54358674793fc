"""Import of DualCam recordings: raw per-frame dumps into a session file, and DualCam's own
precomputed MFCC acoustic images into an ``acam-acoustic`` file beside that session.

Two entry points, meant for the CLI commands

    acam import dualcam DIR --out session.h5 [--broken 79,105]
        -> import_dualcam(DIR, "session.h5", broken_mics=(79, 105))
    acam import dualcam-mfcc session.h5 DIR [--out session.acoustic.h5]
        -> import_dualcam_mfcc(DIR, "session.h5", "session.acoustic.h5")

Both raise :class:`.AcamError` with a one-line message (naming the folder or file and what was
expected) for bad input, return a summary ``dict`` on success, and write through
:func:`.atomic.atomic_output`: a failed or interrupted import leaves no file that looks finished.

DualCam dump format (see ``shared/reference/dualcam-facts.md``)
---------------------------------------------------------------
One audio file and one image per video frame, 12 frames per second:

- ``A_%06d.dc``: raw int32 little-endian, 128 microphones x 1024 samples in Fortran order
  (``np.fromfile(f, '<i4').reshape((128, 1024), order='F')``; row c is microphone c), so
  exactly 524288 bytes.
- ``I_%06d.bmp``, ``I_%06d.jpeg`` or ``I_%06d.jpg``: a 640 x 480 picture (read with OpenCV,
  stored as RGB).

The files lie either directly in ``DIR`` or in ``DIR/audio/`` and ``DIR/video/``. Frame numbers
may start anywhere (0 or 1 in practice) but must be consecutive and present for both audio and
video; session frame k is the k-th file in number order, whatever its number.

Decisions of the session import:

- Sample rate 12 * 1024 = 12288 Hz (1024 samples per 12 fps video frame), not the nominal 12 kHz.
- Frame k's timestamp is sample ``k * 1024 + 512``, the centre of its audio block: the audio of
  ``A_k`` fills samples ``[k*1024, (k+1)*1024)``, and ``acam beamform`` centres its 1024-sample
  window on the timestamp, so it analyses exactly block k, as the DualCam pipeline did.
- Audio is stored as float32 of the raw int32 counts, unscaled (metadata ``units`` = 'raw int32
  counts'); float32 is exact for counts below 2**24 in magnitude, above that it rounds to a
  relative 6e-8. The summary reports the largest magnitude seen.
- The broken microphones (79 and 105 in the published recordings) keep their samples as
  recorded and are only marked bad in the geometry; the published converter zeroed them.
- The geometry is the ``dualcam128`` preset unless one is given. The real DualCam microphone
  positions are not public: the preset is this toolkit's optimized 128-microphone layout, so
  beamforming imported audio with it does not reproduce DualCam's acoustic images.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..array.camera import Camera
from ..array.geometry import ArrayGeometry, preset
from ..array.grid import make_grid
from ..constants import (DUALCAM_BROKEN_MICS, DUALCAM_FPS, DUALCAM_MICS, DUALCAM_SAMPLE_FREQ,
                         DUALCAM_SAMPLES_PER_FRAME, ENERGY_BAND, GRID_SHAPE, NFFT, WINDOW)
from ..errors import AcamError
from ..framing import bin_frequencies
from .acoustic import AcousticWriter
from .atomic import atomic_output, check_output
from .session import SessionWriter, open_session

N_MICS = DUALCAM_MICS
SAMPLES_PER_FRAME = DUALCAM_SAMPLES_PER_FRAME
DC_BYTES = N_MICS * SAMPLES_PER_FRAME * 4  # 524288
DEVICE = "DualCam (imported)"
UNITS = "raw int32 counts"
MFCC_DEPTH = 12
MFCC_KEY = "MFCC"
MFCC_SOURCE = "DualCam MFCC_Image import"
MFCC_RECIPE = ("DualCam's published recipe: Tukey 0.75 window, |rfft 1024|^2 (512 bins), 24 mel filters 0-6400 Hz "
               "for an assumed 12.8 kHz rate, log with floor 1e-3, DCT coefficients 1..12, lifter 22")

_AUDIO_RE = re.compile(r"^A_(\d+)\.dc$", re.IGNORECASE)
_IMAGE_RE = re.compile(r"^I_(\d+)\.(bmp|jpeg|jpg)$", re.IGNORECASE)
_MAT_RE = re.compile(r"^Data_(\d+)\.mat$", re.IGNORECASE)
_AUDIO_GROUP = 12  # frames per audio write: one second, 6 MB of float32
_HASH_ROWS = 65536


# -- locating the dump files ---------------------------------------------------------------
_MAX_NUMBER_DIGITS = 18  # a frame number: 10**18 frames at 12 fps outlast the universe


def _number(p: Path, m: re.Match) -> int:
    """The frame number of a matched file name, refusing one too long to be a frame number
    (Python's int() refuses past 4300 digits, and no dump reaches 10**18 frames)."""
    digits = m.group(1)
    if len(digits) > _MAX_NUMBER_DIGITS:
        raise AcamError(f"{p}: expected a frame number of at most {_MAX_NUMBER_DIGITS} digits, found {len(digits)} digits")
    return int(digits)


def _numbered(folder: Path, pattern: re.Pattern) -> dict[int, list[Path]]:
    out: dict[int, list[Path]] = {}
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise AcamError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    for p in entries:
        m = pattern.match(p.name)
        if m and p.is_file():
            out.setdefault(_number(p, m), []).append(p)
    return out


def find_dualcam_frames(src_dir: str | Path) -> tuple[list[int], list[Path], list[Path], str]:
    """Locate and pair a DualCam dump's files, checking the set is complete.

    Returns ``(numbers, audio_files, image_files, layout)`` in frame order; ``layout`` is
    ``'flat'`` (files in DIR) or ``'audio/ + video/'``. Raises :class:`.AcamError` naming the
    first gap (a missing image or audio file, or a jump in the frame numbers), a wrongly sized
    ``.dc`` file, or a frame with two images.
    """
    src = Path(src_dir)
    if not src.exists():
        raise AcamError(f"{src}: no such directory (expected a DualCam dump with A_%06d.dc and I_%06d.bmp/.jpeg files)")
    if not src.is_dir():
        raise AcamError(f"{src}: not a directory (expected a DualCam dump with A_%06d.dc and I_%06d.bmp/.jpeg files)")
    sub_a, sub_v = src / "audio", src / "video"
    if sub_a.is_dir() or sub_v.is_dir():
        adir = sub_a if sub_a.is_dir() else src
        vdir = sub_v if sub_v.is_dir() else src
        layout = "audio/ + video/"
    else:
        adir = vdir = src
        layout = "flat"
    audio = _numbered(adir, _AUDIO_RE)
    if not audio:
        where = f"{adir}" if adir == src else f"{adir} (or {src})"
        raise AcamError(f"{where}: no A_*.dc files: expected DualCam raw audio A_%06d.dc "
                        f"(int32, {N_MICS} mics x {SAMPLES_PER_FRAME} samples), in DIR or DIR/audio/")
    images = _numbered(vdir, _IMAGE_RE)
    for k in sorted(images):
        if len(images[k]) > 1:
            names = ", ".join(sorted(p.name for p in images[k]))
            raise AcamError(f"{vdir}: frame {k} has more than one image ({names}): expected one I_{k:06d}.bmp or .jpeg")
    for k in sorted(audio):
        if len(audio[k]) > 1:  # e.g. A_000001.dc and A_1.dc
            names = ", ".join(sorted(p.name for p in audio[k]))
            raise AcamError(f"{adir}: frame {k} has more than one audio file ({names})")

    # the numbers present, in order (never the range between the lowest and the highest: a dump
    # numbered A_000000 .. A_1000000000000 would loop 10**12 times before finding its jump)
    numbers = sorted(set(audio) | set(images))
    prev = None
    for k in numbers:
        if prev is not None and k != prev + 1:
            raise AcamError(f"{src}: frame numbers jump from {prev} to {k} "
                            f"(A_{prev:06d}.dc -> A_{k:06d}.dc): expected consecutive frames")
        a, i = k in audio, k in images
        if a and not i:
            exts = {ps[0].suffix for ps in images.values()}
            ext = exts.pop() if len(exts) == 1 else ".bmp/.jpeg"
            raise AcamError(f"{vdir}: I_{k:06d}{ext} missing for {audio[k][0].name} "
                            f"(expected one image per audio file; {len(images)} images, {len(audio)} audio files)")
        if i and not a:
            raise AcamError(f"{adir}: A_{k:06d}.dc missing for {images[k][0].name} "
                            f"(expected one audio file per image; {len(audio)} audio files, {len(images)} images)")
        prev = k
    afiles = [audio[k][0] for k in numbers]
    ifiles = [images[k][0] for k in numbers]
    for p in afiles:
        size = p.stat().st_size
        if size != DC_BYTES:
            raise AcamError(f"{p}: {size} bytes, expected {DC_BYTES} "
                            f"({N_MICS} mics x {SAMPLES_PER_FRAME} samples x 4-byte int32)")
    return numbers, afiles, ifiles, layout


def read_dc(path: str | Path) -> np.ndarray:
    """One ``A_%06d.dc`` file -> int32 (128, 1024): row c is microphone c."""
    path = Path(path)
    raw = np.fromfile(path, dtype="<i4")
    if raw.size * 4 != DC_BYTES:
        raise AcamError(f"{path}: {raw.size * 4} bytes, expected {DC_BYTES} "
                        f"({N_MICS} mics x {SAMPLES_PER_FRAME} samples x 4-byte int32)")
    return raw.reshape((N_MICS, SAMPLES_PER_FRAME), order="F")


def read_image(path: str | Path, width: int = 640, height: int = 480) -> np.ndarray:
    """One ``I_%06d.bmp/.jpeg`` file -> uint8 (height, width, 3) RGB."""
    path = Path(path)
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise AcamError(f"{path}: cannot read the image ({exc})") from None
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise AcamError(f"{path}: not a readable image (expected a {width}x{height} BMP or JPEG)")
    if img.shape[:2] != (height, width):
        raise AcamError(f"{path}: image is {img.shape[1]}x{img.shape[0]}, expected {width}x{height}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# -- raw dumps -> session ------------------------------------------------------------------
def import_dualcam(src_dir: str | Path, out_path: str | Path, *, broken_mics=DUALCAM_BROKEN_MICS,
                   geometry: ArrayGeometry | None = None, overwrite: bool = False,
                   progress: Callable[[int, int], None] | None = None, metadata: dict | None = None) -> dict:
    """Import a DualCam dump folder into an acam session file (``acam import dualcam``).

    Args:
        src_dir: folder with ``A_%06d.dc`` and ``I_%06d.bmp``/``.jpeg``/``.jpg`` files, directly
            or in ``audio/`` and ``video/`` subfolders.
        out_path: the session file to write (HDF5, ``acam-session`` schema).
        broken_mics: 0-based microphone indices to mark bad (CLI ``--broken 79,105``); their
            samples are stored as recorded. Pass ``()`` to mark none.
        geometry: a 128-microphone :class:`.ArrayGeometry` (default: the ``dualcam128`` preset).
        overwrite: replace ``out_path`` if it exists.
        progress: called as ``progress(frames_done, frames_total)`` after each frame.
        metadata: optional ``label``, ``subject``, ``scenario`` (and any other keys, kept in the
            session's ``extra_json``); ``device`` defaults to 'DualCam (imported)'.

    Returns:
        A summary: ``path``, ``frames``, ``samples``, ``sample_freq``, ``duration_s``,
        ``channels``, ``bad_mics``, ``first_frame_number``, ``layout``, ``image_formats``,
        ``max_abs_count``, ``exact_float32`` (every count below 2**24), ``seconds``.

    Raises:
        AcamError: an incomplete or malformed dump (the message names the first problem), or
        ``out_path`` exists without ``overwrite``. No output file is left behind.
    """
    t0 = time.perf_counter()
    src, out_path = Path(src_dir), Path(out_path)
    geom = preset("dualcam128") if geometry is None else geometry
    if geom.n_mics != N_MICS:
        raise AcamError(f"geometry {geom.name!r}: {geom.n_mics} microphones, expected {N_MICS} for DualCam recordings")
    broken = sorted({int(i) for i in broken_mics})
    geom = geom.with_bad(broken)
    check_output(out_path, overwrite, inputs=(src,))
    numbers, afiles, ifiles, layout = find_dualcam_frames(src)
    n = len(numbers)
    camera = Camera()

    md = {"device": DEVICE}
    md.update(dict(metadata or {}))
    md.update({
        "units": UNITS,
        "source": "DualCam raw dump import",
        "source_dir": str(src.resolve()),
        "source_layout": layout,
        "first_frame_number": numbers[0],
        "samples_per_frame": SAMPLES_PER_FRAME,
        "frame_timestamp": "sample k*1024 + 512: the centre of A_k's audio block [k*1024, (k+1)*1024)",
        "broken_mics": broken,
        "broken_mics_note": "marked bad in /array/bad; samples kept as recorded",
        "geometry_note": ("positions are acam's dualcam128 preset, not the unpublished DualCam layout"
                          if geometry is None else f"geometry {geom.name!r} given at import"),
    })

    max_abs = 0
    formats: set[str] = set()
    with atomic_output(out_path, overwrite=overwrite, inputs=(src,)) as tmp:
        with SessionWriter(tmp, sample_freq=DUALCAM_SAMPLE_FREQ, geometry=geom, camera=camera, video_fps=DUALCAM_FPS,
                           metadata=md, overwrite=True, final_path=out_path) as w:
            for g0 in range(0, n, _AUDIO_GROUP):
                g1 = min(n, g0 + _AUDIO_GROUP)
                block = np.empty(((g1 - g0) * SAMPLES_PER_FRAME, N_MICS), np.float32)
                for j, k in enumerate(range(g0, g1)):
                    raw = read_dc(afiles[k])
                    if raw.size:
                        max_abs = max(max_abs, int(np.abs(raw.astype(np.int64)).max()))
                    block[j * SAMPLES_PER_FRAME:(j + 1) * SAMPLES_PER_FRAME] = raw.T
                for k in range(g0, g1):
                    img = read_image(ifiles[k], camera.width, camera.height)
                    formats.add(ifiles[k].suffix.lower().lstrip("."))
                    w.write_frames(img[None], np.array([k * SAMPLES_PER_FRAME + SAMPLES_PER_FRAME // 2]))
                w.write_audio(block)
                if progress:
                    for k in range(g0, g1):
                        progress(k + 1, n)
    seconds = time.perf_counter() - t0
    return {
        "path": str(out_path), "frames": n, "samples": n * SAMPLES_PER_FRAME, "sample_freq": DUALCAM_SAMPLE_FREQ,
        "duration_s": n * SAMPLES_PER_FRAME / DUALCAM_SAMPLE_FREQ, "channels": N_MICS,
        "bad_mics": np.flatnonzero(geom.bad).tolist(), "first_frame_number": numbers[0], "layout": layout,
        "image_formats": sorted(formats), "max_abs_count": max_abs, "exact_float32": max_abs <= 2 ** 24,
        "seconds": seconds,
    }


# -- MFCC_Image/Data_%d.mat -> acam-acoustic ----------------------------------------------
def _mat_folder(mat_dir: Path) -> Path:
    if not mat_dir.is_dir():
        raise AcamError(f"{mat_dir}: no such directory (expected DualCam MFCC_Image/Data_%d.mat files)")
    sub = mat_dir / "MFCC_Image"
    return sub if sub.is_dir() else mat_dir


def find_mfcc_files(mat_dir: str | Path, n_frames: int) -> tuple[list[Path], int]:
    """The ``Data_%d.mat`` files for a session of ``n_frames`` frames, in frame order, and the
    first number (0 or 1: both numberings are accepted; ``Data_0.mat`` present means 0-based).

    ``mat_dir`` is the ``MFCC_Image`` folder or the recording folder holding it. Raises
    :class:`.AcamError` naming the first missing index, or the surplus, when the files do not
    number exactly ``n_frames`` consecutive frames.
    """
    folder = _mat_folder(Path(mat_dir))
    files = {}
    for p in folder.iterdir():
        m = _MAT_RE.match(p.name)
        if m and p.is_file():
            k = _number(p, m)
            if k in files:
                raise AcamError(f"{folder}: two files for index {k} ({files[k].name}, {p.name})")
            files[k] = p
    if not files:
        raise AcamError(f"{folder}: no Data_*.mat files: expected DualCam MFCC acoustic images "
                        f"MFCC_Image/Data_%d.mat (key '{MFCC_KEY}', 36x48x12), one per video frame")
    if 0 in files:
        start = 0
    elif 1 in files:
        start = 1
    else:
        raise AcamError(f"{folder}: neither Data_0.mat nor Data_1.mat: expected numbering from 0 or 1, "
                        f"found Data_{min(files)}.mat first")
    want = range(start, start + n_frames)
    for k in want:
        if k not in files:
            raise AcamError(f"{folder}: Data_{k}.mat missing: expected {n_frames} files (one per session frame) "
                            f"numbered from {start}, found {len(files)}")
    extra = sorted(k for k in files if k not in want)
    if extra:
        raise AcamError(f"{folder}: {len(files)} Data_*.mat files but the session has {n_frames} frames "
                        f"(first surplus: Data_{extra[0]}.mat, numbering from {start})")
    return [files[k] for k in want], start


def read_mfcc_mat(path: str | Path, shape: tuple[int, int] = GRID_SHAPE) -> tuple[np.ndarray, int]:
    """One ``Data_%d.mat`` -> (float32 (rows, cols, 12), stored depth). A depth below 12 is
    zero-padded at the front (leading coefficients zero), as the published converter does."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path)
    except Exception as exc:  # scipy raises several types for a damaged file
        raise AcamError(f"{path}: not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    if MFCC_KEY not in mat:
        keys = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise AcamError(f"{path}: no variable '{MFCC_KEY}' (found: {keys})")
    a = np.asarray(mat[MFCC_KEY])
    if a.ndim == 2:  # MATLAB drops a trailing singleton dimension
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[:2] != tuple(shape) or not 1 <= a.shape[2] <= MFCC_DEPTH:
        raise AcamError(f"{path}: '{MFCC_KEY}' has shape {a.shape}, expected {shape[0]}x{shape[1]}x(1..{MFCC_DEPTH})")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise AcamError(f"{path}: '{MFCC_KEY}' has dtype {a.dtype}, expected real numbers")
    depth = a.shape[2]
    out = np.zeros((*shape, MFCC_DEPTH), dtype="<f4")
    out[:, :, MFCC_DEPTH - depth:] = a
    return out, depth


def import_dualcam_mfcc(mat_dir: str | Path, session_path: str | Path, out_path: str | Path, *,
                        overwrite: bool = False) -> dict:
    """Import DualCam's precomputed MFCC acoustic images (``acam import dualcam-mfcc``).

    Writes the ``acam-acoustic`` layout of ``acam beamform --features mfcc`` for the session:
    ``/mfcc`` (frames, 36, 48, 12) float32, ``/frequencies`` (the 512 bin frequencies of a
    1024-point FFT at the session's rate), ``/frame_sample_index`` and ``/frame_time`` (the
    session's), ``/coverage`` (ones), ``/grid/*`` (``make_grid`` of the session's camera) and the
    attributes ``complete=1``, ``params_json`` (``source`` = 'DualCam MFCC_Image import'),
    ``session_path`` and ``session_time_data_sha256``.

    Args:
        mat_dir: the ``MFCC_Image`` folder, or the recording folder that holds it, with
            ``Data_%d.mat`` (MATLAB variable ``MFCC``, 36x48xD with D <= 12; D < 12 is zero-padded
            at the front to 12). Numbering from 0 or from 1; file i of the sequence is session
            frame i.
        session_path: the session (e.g. from :func:`import_dualcam`) the images belong to; it
            needs one ``.mat`` file per video frame.
        out_path: the acoustic file to write (conventionally ``SESSION.acoustic.h5``).
        overwrite: replace ``out_path`` if it exists.

    Returns:
        A summary: ``path``, ``frames``, ``first_index``, ``padded_frames`` (files with D < 12),
        ``seconds``.

    Raises:
        AcamError: unreadable session, missing/surplus/malformed ``.mat`` files (the first one
        named), or ``out_path`` exists without ``overwrite``. No output file is left behind.
    """
    t0 = time.perf_counter()
    mat_dir, session_path, out_path = Path(mat_dir), Path(session_path), Path(out_path)
    check_output(out_path, overwrite, inputs=(session_path,))
    with open_session(session_path) as s:
        n = s.n_frames
        files, start = find_mfcc_files(mat_dir, n)
        grid = make_grid(s.camera, GRID_SHAPE)
        padded = 0
        params = {
            "source": MFCC_SOURCE,
            "source_dir": str(files[0].parent.resolve()) if files else str(mat_dir.resolve()),
            "first_index": start,
            "numbering": f"Data_{start}.mat is session frame 0",
            "padding": f"depth < {MFCC_DEPTH} zero-padded at the front (leading coefficients), cast to float32",
            "dtype": "float32", "nfft": NFFT, "window": WINDOW,
            "band_hz": [ENERGY_BAND[0], ENERGY_BAND[1]], "mfcc_recipe": MFCC_RECIPE,
            "bad_mics": np.flatnonzero(s.geometry.bad).tolist(),
            "note": ("computed by DualCam's own (unpublished) beamformer, not by acam; "
                     "pixel orientation as stored in the .mat files"),
        }
        with atomic_output(out_path, overwrite=overwrite, inputs=(session_path,)) as tmp:
            with AcousticWriter(tmp, session=s, grid=grid, freqs=bin_frequencies(s.sample_freq, NFFT), params=params,
                                features=("mfcc",), n_mfcc=MFCC_DEPTH, final_path=out_path) as w:
                for b0 in range(0, n, 64):
                    b1 = min(n, b0 + 64)
                    batch = np.empty((b1 - b0, grid.rows, grid.cols, MFCC_DEPTH), np.float32)
                    for j, k in enumerate(range(b0, b1)):
                        batch[j], depth = read_mfcc_mat(files[k], (grid.rows, grid.cols))
                        padded += depth < MFCC_DEPTH
                    w.write(b0, mfcc=batch)
                w.update_params(padded_frames=int(padded))
                w.finish(s.time_data_sha256())
    return {"path": str(out_path), "frames": n, "first_index": start, "padded_frames": int(padded),
            "seconds": time.perf_counter() - t0}
