"""``acam beamform``: a session's acoustic images, streamed into a separate HDF5 file.

Output layout (schema ``acam-acoustic`` v1):

    /volumes             (frames, rows, cols, bins) float32|float16 power (Pa^2 per bin),
                         chunks (1, rows, cols, 64): cheap per-frame and per-band reads
    /mfcc                (frames, rows, cols, 12) float32
    /energy_db           (frames, rows, cols) float32, band energy in dB re 1 Pa^2
    /frequencies         (bins,) Hz
    /frame_sample_index  (frames,) and /frame_time (frames,): the session's video timestamps
    /coverage            (frames,) fraction of each frame's window inside the recording
    /grid/pixels (rows, cols, 2), /grid/rects (rows, cols, 4), /grid/points or /grid/directions (rows, cols, 3)
    attrs                parameters, the session's path and the SHA-256 of its /time_data

The raw session is never modified. The output is written under a temporary name and renamed
when complete, so an interrupted run never leaves a file that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from . import __version__
from .beamformer import Beamformer
from .errors import AcamError
from .features import DEFAULT_BAND, MfccSpec, band_energy_db, mfcc
from .session import open_session
from .spectra import frame_windows, gather_frames

SCHEMA_NAME = "acam-acoustic"
SCHEMA_VERSION = 1
FEATURES = ("volumes", "mfcc", "energy")
BAND_CHUNK = 64


def default_output(session_path: Path) -> Path:
    p = Path(session_path)
    return p.with_name(p.stem + ".acoustic.h5")


def parse_features(text: str) -> tuple[str, ...]:
    feats = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [f for f in feats if f not in FEATURES]
    if bad or not feats:
        raise AcamError(f"features must be a comma-separated subset of {', '.join(FEATURES)}, got {text!r}")
    return feats


def beamform_session(session_path, out_path=None, *, features=("mfcc", "energy"), dtype="float32",
                     batch: int = 24, band=DEFAULT_BAND, overwrite: bool = False,
                     progress: Callable[[int, int], None] | None = None, **beamformer_kw) -> dict:
    """Beamform every video frame of a session; returns a summary. ``beamformer_kw`` go to
    :class:`.Beamformer` (grid, focus_distance, nfft, window, steering, backend, ...)."""
    session_path = Path(session_path)
    out_path = Path(out_path) if out_path else default_output(session_path)
    if dtype not in ("float32", "float16"):
        raise AcamError(f"--dtype must be float32 or float16, got {dtype!r}")
    if out_path.exists() and not overwrite:
        raise AcamError(f"{out_path}: file exists (pass --overwrite to replace it)")
    if out_path.resolve() == session_path.resolve():
        raise AcamError(f"{out_path}: the output would overwrite the session itself")
    t_start = time.perf_counter()
    with open_session(session_path) as s:
        bf = Beamformer(s.geometry, s.camera, s.sample_freq, **beamformer_kw)
        rows, cols, nb = bf.volume_shape
        n = s.n_frames
        starts, coverage = frame_windows(s.frame_sample_index, bf.nfft, s.n_samples)
        tmp = out_path.with_name(out_path.name + ".partial")
        hasher, hashed = hashlib.sha256(), 0

        def read(a, b):
            nonlocal hashed
            block = s.audio(a, b)
            if b > hashed and a <= hashed:  # hash the session's audio once, in order, as it streams by
                hasher.update(np.ascontiguousarray(block[hashed - a:]).tobytes())
                hashed = b
            return block

        try:
            with h5py.File(tmp, "w") as f:
                _write_header(f, s, bf, features, dtype, band)
                f["coverage"] = coverage
                ds = {}
                if "volumes" in features:
                    ds["volumes"] = f.create_dataset("volumes", (n, rows, cols, nb), dtype=dtype,
                                                     chunks=(1, rows, cols, min(BAND_CHUNK, nb)))
                if "mfcc" in features:
                    ds["mfcc"] = f.create_dataset("mfcc", (n, rows, cols, MfccSpec().n_coeffs), dtype="float32",
                                                  chunks=(min(64, max(n, 1)), rows, cols, MfccSpec().n_coeffs))
                if "energy" in features:
                    ds["energy"] = f.create_dataset("energy_db", (n, rows, cols), dtype="float32",
                                                    chunks=(min(256, max(n, 1)), rows, cols))
                for k0 in range(0, n, batch):
                    k1 = min(n, k0 + batch)
                    frames = gather_frames(read, starts[k0:k1], bf.nfft, s.n_samples, s.n_channels)
                    vol = bf(frames)
                    if "volumes" in ds:
                        ds["volumes"][k0:k1] = vol.astype(dtype)
                    if "mfcc" in ds:
                        ds["mfcc"][k0:k1] = mfcc(vol, bf.freqs)
                    if "energy" in ds:
                        ds["energy"][k0:k1] = band_energy_db(vol, bf.freqs, band)
                    if progress:
                        progress(k1, n)
                if hashed < s.n_samples:
                    read(hashed, s.n_samples)
                f.attrs["session_time_data_sha256"] = hasher.hexdigest()
                f.attrs["complete"] = 1
            os.replace(tmp, out_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        seconds = time.perf_counter() - t_start
        return {"path": str(out_path), "frames": n, "seconds": seconds, "volumes_per_s": n / seconds if seconds else 0,
                "realtime_factor": (s.duration / seconds) if seconds else 0, "backend": bf.backend.name,
                "partial_frames": int(np.sum(coverage < 1))}


def _write_header(f, s, bf: Beamformer, features, dtype, band):
    a = f.attrs
    a["acam_schema"] = SCHEMA_NAME
    a["acam_schema_version"] = SCHEMA_VERSION
    a["software_version"] = __version__
    a["complete"] = 0
    a["session_path"] = str(Path(s.path).resolve())
    a["sample_freq"] = s.sample_freq
    params = {
        "nfft": bf.nfft, "window": bf.window_name, "steering": bf.steering, "c": bf.c,
        "grid": [bf.grid.rows, bf.grid.cols], "focus_distance": bf.grid.focus_distance,
        "backend": bf.backend.name, "features": list(features), "dtype": dtype,
        "band_hz": [band[0], band[1]], "mfcc": vars(MfccSpec()), "bad_mics": np.flatnonzero(s.geometry.bad).tolist(),
        "frame_window": "centred on the frame timestamp: [s_k - nfft/2, s_k + nfft/2), zero-padded past the ends",
        "spectrum_scaling": "RMS: a sine of amplitude A on a bin gives |X| = A/sqrt(2)",
    }
    a["params_json"] = json.dumps(params)
    f["frequencies"] = bf.freqs
    f["frame_sample_index"] = s.frame_sample_index
    f["frame_time"] = s.frame_time
    g = f.create_group("grid")
    g["pixels"] = bf.grid.pixels
    g["rects"] = bf.grid.rects
    if bf.grid.points is not None:
        g["points"] = bf.grid.points
    g["directions"] = bf.grid.directions
