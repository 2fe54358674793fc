"""``acam beamform``: every video frame of a session into its acoustic images, streamed into an
acoustic file (:mod:`acoustic_camera.io.acoustic`) beside the session, in bounded memory.

The raw session is never modified; the output appears under its final name only when complete.

Three stages overlap: a reader thread fetches (and hashes) the next batch's audio while the
kernel computes the current one, and a writer thread turns the previous batch's volumes into
features and writes them. At most one batch waits at each hand-over, so memory stays bounded
(about three batches of volumes) for any session length, and an error in any stage stops the
run and is raised from the call.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from ..constants import ENERGY_BAND
from ..errors import AcamError
from ..framing import frame_windows
from ..io.acoustic import VOLUME_DTYPES, AcousticWriter, acoustic_path_for
from ..io.atomic import atomic_output, check_output
from ..io.session import AudioHasher, open_session
from .beamformer import Beamformer
from .features import MfccSpec, band_energy_db, mfcc, mfcc_and_energy, power_db
from ..constants import GRID_SHAPE, NFFT
from .methods import KERNEL_METHOD, iter_band_maps
from .spectra import gather_frames


def beamform_session(session_path, out_path=None, *, features=("mfcc", "energy"), dtype="float32",
                     batch: int = 24, band=ENERGY_BAND, overwrite: bool = False,
                     progress: Callable[[int, int], None] | None = None, calibration=None, method=None,
                     **beamformer_kw) -> dict:
    """Beamform every video frame of a session into an acoustic file; returns a summary.

    Args:
        session_path: the session (.h5).
        out_path: the acoustic file (default ``NAME.acoustic.h5`` beside the session).
        features: any of 'volumes', 'mfcc', 'energy'.
        dtype: of stored volumes, 'float32' or 'float16'.
        batch: frames per kernel call.
        band: (lo, hi) Hz of the energy maps (hi None: the top bin).
        overwrite: replace an existing output.
        progress: called as ``progress(frames_done, frames_total)``.
        calibration: a calibration file (or a loaded :class:`~acoustic_camera.io.calibration.Calibration`):
            its microphone gains divide the spectra, its excluded microphones are left out, its
            camera intrinsics and pose replace the session's (the look grid follows them), and with an
            audio-video offset each frame's window is centred on the audio time its picture
            shows; the acoustic file records its SHA-256.
        beamformer_kw: go to :class:`.Beamformer` (grid, focus_distance, nfft, window, steering,
            shading, backend).
        method: a :class:`.methods.MethodSpec` (``acam beamform --method``): the band's energy maps
            come from that short-time cross-spectral method instead of the one-frame kernel; only
            ``energy`` can be stored then, and the method and its parameters are recorded.
    """
    session_path = Path(session_path)
    out_path = Path(out_path) if out_path else acoustic_path_for(session_path)
    if dtype not in VOLUME_DTYPES:
        raise AcamError(f"--dtype: expected one of {', '.join(VOLUME_DTYPES)}, found {dtype!r}")
    if batch < 1:
        raise AcamError(f"--batch: expected a positive number of frames, found {batch}")
    if method is not None and tuple(features) != ("energy",):
        raise AcamError(f"--method {method.method}: expected --features energy (the short-time methods make band "
                        f"maps, not volumes or MFCC), found --features {','.join(features)}")
    check_output(out_path, overwrite, inputs=(session_path,))
    t_start = time.perf_counter()
    with open_session(session_path) as s:
        s.require_audio("beamform")
        from ..options import check_memory

        rows, cols = beamformer_kw.get("grid", GRID_SHAPE)
        nfft = beamformer_kw.get("nfft", NFFT)
        # three batches of volumes in flight (read, computed, written), float32, and their spectra
        check_memory(3 * batch * (rows * cols * (nfft // 2) * 4 + s.n_channels * (nfft // 2) * 8 + nfft * s.n_channels * 4),
                     f"beamforming {s.path} in batches of {batch} frames", "--batch, --grid, --nfft")
        if "reduced" in s.metadata:
            raise AcamError(f"{session_path}: /time_data: expected the array's channels, found microphone "
                            f"{s.metadata['reduced'].get('kept_channels')} only (a training copy: acam dataset make --keep "
                            f"training beamformed it before dropping the array audio; its acoustic file is "
                            f"{acoustic_path_for(session_path).name})")
        geometry, camera, cal_params = s.geometry, s.camera, None
        if calibration is not None:
            geometry, camera, cal_params = apply_calibration(calibration, s, beamformer_kw)
        bf = Beamformer(geometry, camera, s.sample_freq, **beamformer_kw)
        # the plan, tables and (on a machine's first run) the kernels' compilation are set-up,
        # reported apart so that volumes/s is the throughput a long session sees
        setup = time.perf_counter() - t_start
        n = s.n_frames
        # a calibrated audio-video offset: each picture shows the audio time t_k - offset
        shift = int(round((cal_params or {}).get("av_offset_s", 0.0) * s.sample_freq))
        starts, coverage = frame_windows(s.frame_sample_index - shift, bf.nfft, s.n_samples)
        spec = MfccSpec()
        params = dict(bf.params(), dtype=dtype, band_hz=[band[0], band[1]], mfcc=vars(spec),
                      bad_mics=np.flatnonzero(geometry.bad).tolist(), calibration=cal_params,
                      method=vars(method) if method is not None else KERNEL_METHOD)
        hasher = AudioHasher()

        def read(a, b):
            block = s.audio(a, b)
            hasher.update(max(a, 0), block)
            return block

        with atomic_output(out_path, overwrite=overwrite, inputs=(session_path,)) as tmp:
            with AcousticWriter(tmp, session=s, grid=bf.grid, freqs=bf.freqs, params=params, features=features,
                                dtype=dtype, coverage=coverage, n_mfcc=spec.n_coeffs, final_path=out_path) as w:
                if method is not None:
                    for cs, maps in iter_band_maps(read, s.frame_sample_index - shift, s.n_samples, s.n_channels, bf,
                                                   method, band, batch=batch):
                        w.write(int(cs[0]), energy=power_db(maps))
                        if progress:
                            progress(int(cs[-1]) + 1, n)
                    n_batches = 0
                else:
                    n_batches = n

                def load(k0):
                    return gather_frames(read, starts[k0:min(n, k0 + batch)], bf.nfft, s.n_samples, s.n_channels)

                def store(k0, vol):
                    m = e = None
                    if "mfcc" in features and "energy" in features:
                        m, e = mfcc_and_energy(vol, bf.freqs, spec, band)
                    elif "mfcc" in features:
                        m = mfcc(vol, bf.freqs, spec)
                    elif "energy" in features:
                        e = band_energy_db(vol, bf.freqs, band)
                    w.write(k0, volumes=vol if "volumes" in features else None, mfcc=m, energy=e)
                    if progress:
                        progress(k0 + vol.shape[0], n)

                with ThreadPoolExecutor(1, "acam-read") as reader, ThreadPoolExecutor(1, "acam-write") as writer:
                    ahead = reader.submit(load, 0) if n_batches else None
                    written = None
                    for k0 in range(0, n_batches, batch):
                        frames = ahead.result()
                        if k0 + batch < n:
                            ahead = reader.submit(load, k0 + batch)
                        vol = bf(frames)
                        if written is not None:
                            written.result()
                        written = writer.submit(store, k0, vol)
                    if written is not None:
                        written.result()
                rest = hasher.missing(s.n_samples)
                if rest:  # audio no frame window touched still names the session
                    for a in range(rest[0], rest[1], 65536):
                        hasher.update(a, s.audio(a, min(a + 65536, rest[1])))
                if s.nonfinite:
                    w.update_params(nonfinite_audio=s.nonfinite.summary(s.sample_freq))
                w.finish(hasher.hexdigest())
        seconds = time.perf_counter() - t_start
        run = seconds - setup
        return {"path": str(out_path), "frames": n, "seconds": seconds, "setup_seconds": setup,
                "volumes_per_s": n / run if run > 0 else 0, "realtime_factor": (s.duration / run) if run > 0 else 0,
                "backend": bf.backend.name,
                "partial_frames": int(np.sum(coverage < 1)),
                "nonfinite": s.nonfinite.summary(s.sample_freq) if s.nonfinite else None}


def apply_calibration(calibration, session, beamformer_kw: dict):
    """(geometry with the calibration's excluded microphones, the camera with its intrinsics
    and pose, the record for the acoustic file); puts the inverse gains into ``beamformer_kw``."""
    from dataclasses import replace

    from ..constants import NFFT
    from ..framing import bin_frequencies
    from ..io.calibration import Calibration, load_calibration

    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    geometry, camera = session.geometry, session.camera
    # a live view's session has no length yet: its offset is checked against nothing longer
    n = getattr(session, "n_samples", None)
    cal.check_session(geometry.n_mics, camera.width, camera.height, n / session.sample_freq if n else float("inf"))
    record = {"path": str(calibration) if not isinstance(calibration, Calibration) else "", "sha256": cal.sha256}
    mc = cal.microphones
    if mc is not None:
        geometry = geometry.with_bad(mc.excluded)
        freqs = bin_frequencies(session.sample_freq, beamformer_kw.get("nfft", NFFT))
        beamformer_kw["calibration"] = 1.0 / mc.gains_at(freqs)
        record["excluded_mics"] = mc.excluded
    if cal.camera is not None:
        camera = cal.camera.camera(pose_from=camera)
        record["camera"] = "intrinsics and distortion"
    if cal.pose is not None:
        camera = replace(camera, rotation=cal.pose.rotation, translation=cal.pose.translation)
        record["pose"] = "rotation and translation" if cal.pose.translation_estimated else "rotation"
    if cal.sync is not None:
        record["av_offset_s"] = cal.sync.av_offset_s
    return geometry, camera, record
