"""Results leaving acam as easily as recordings enter: a session's audio as a multichannel WAV,
an acoustic file's maps as numpy arrays (.npz) or a table (.csv).

- :func:`export_wav`: the array's audio (all or some channels) as float32 or 24-bit WAV (RF64
  past 4 GB, which libsndfile switches to by itself), streamed in blocks, written atomically.
  Non-finite samples leave as 0, as every acam reader reads them.
- :func:`export_maps`: each frame's band-energy map (dB re 1 Pa^2) with the look grid (pixel
  centres, directions), the frames' times and the band; ``.npz`` keeps arrays, ``.csv`` one row
  per frame and cell (frame, time_s, row, col, u_px, v_px, energy_db).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AcamError, DiskError, os_error_line
from .acoustic import open_acoustic
from .atomic import atomic_output
from .session import open_session

WAV_SUBTYPES = {"float32": "FLOAT", "pcm24": "PCM_24", "pcm16": "PCM_16"}


def export_wav(session_path, out_path, *, channels=None, subtype: str = "float32", overwrite: bool = False,
               progress=None) -> dict:
    """Write a session's audio (``channels``: indices, default all) as a WAV file."""
    import soundfile as sf

    if subtype not in WAV_SUBTYPES:
        raise AcamError(f"--subtype: expected one of {', '.join(WAV_SUBTYPES)}, found {subtype!r}")
    with open_session(session_path) as s:
        chans = list(range(s.n_channels)) if channels is None else [int(c) for c in channels]
        if not chans or min(chans) < 0 or max(chans) >= s.n_channels:
            raise AcamError(f"--channels: expected channels 0..{s.n_channels - 1}, found {channels}")
        peak = 0.0
        with atomic_output(out_path, overwrite=overwrite, inputs=(session_path,)) as tmp:
            try:
                with sf.SoundFile(str(tmp), "w", samplerate=int(round(s.sample_freq)), channels=len(chans),
                                  format="RF64" if s.n_samples * len(chans) * 4 > 2**32 - 2**20 else "WAV",
                                  subtype=WAV_SUBTYPES[subtype]) as f:
                    for a in range(0, s.n_samples, 1 << 16):
                        x = s.audio(a, a + (1 << 16))[:, chans]
                        peak = max(peak, float(np.abs(x).max()) if x.size else 0.0)
                        f.write(x)
                        if progress is not None:
                            progress(min(a + (1 << 16), s.n_samples), s.n_samples)
            except (OSError, RuntimeError) as exc:
                if os_error_line(exc) is not None:
                    raise DiskError(out_path, exc) from None
                raise AcamError(f"{out_path}: the WAV could not be written ({exc})") from None
        if subtype != "float32" and peak >= 1.0:
            note = f"samples reach {peak:.3g}: clipped at full scale 1.0 in {subtype} (use float32 to keep them)"
        else:
            note = ""
        return {"path": str(out_path), "samples": s.n_samples, "channels": len(chans), "sample_freq": s.sample_freq,
                "peak": peak, "note": note}


def export_maps(acoustic_path, out_path, *, overwrite: bool = False) -> dict:
    """Write an acoustic file's band-energy maps with their grid (.npz or .csv)."""
    out = Path(out_path)
    kind = out.suffix.lower()
    if kind not in (".npz", ".csv"):
        raise AcamError(f"{out}: expected a file name ending in .npz or .csv, found {kind or 'none'!r}")
    with open_acoustic(acoustic_path) as a:
        if a.energy_db is None:
            raise AcamError(f"{acoustic_path}: /energy_db: expected band-energy maps (acam beamform --features energy), "
                            "found none")
        e = np.asarray(a.energy_db[:], dtype=np.float32)
        band = a.band
        with atomic_output(out, overwrite=overwrite, inputs=(acoustic_path,)) as tmp:
            try:
                if kind == ".npz":
                    with open(tmp, "wb") as fh:
                        np.savez_compressed(fh, energy_db=e, frame_time=a.frame_time, frame_sample_index=a.frame_sample_index,
                                            pixels=a.grid.pixels, directions=a.grid.directions,
                                            band_hz=np.array([band[0], np.nan if band[1] is None else band[1]]))
                else:
                    n, rows, cols = e.shape
                    k, r, c = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
                    u, v = a.grid.pixels[r, c, 0], a.grid.pixels[r, c, 1]
                    table = np.column_stack([k.ravel(), a.frame_time[k.ravel()], r.ravel(), c.ravel(), u.ravel(),
                                             v.ravel(), e.ravel()])
                    with open(tmp, "w") as fh:
                        fh.write("frame,time_s,row,col,u_px,v_px,energy_db\n")
                        np.savetxt(fh, table, fmt=["%d", "%.6f", "%d", "%d", "%.2f", "%.2f", "%.3f"], delimiter=",")
            except OSError as exc:
                if os_error_line(exc) is not None:
                    raise DiskError(out, exc) from None
                raise
        return {"path": str(out), "frames": e.shape[0], "grid": e.shape[1:], "band": band}
