"""acam against Acoular on the same per-video-frame maps: check they agree, then time both.

    python -m benchmarks.bench_acoular [--frames 4] [--batch 24] [--repeats 5] [--quick]

One acoustic frame is 1024 samples of the 128-mic DualCam array at 12 kHz; its map is the
beamformer power at acam's 36 x 48 look points (focus plane 3 m) for bins 0 .. 511.

The Acoular equivalent of one map, as a user would write it today:

- ``TimeSamples`` holding the frame's 1024 samples, ``PowerSpectra`` over exactly that one block
  (``block_size=1024``, no overlap: a one-snapshot cross-spectral matrix),
- ``BeamformerBase(r_diag=False)`` (full CSM, no diagonal removal) with a ``SteeringVector`` on
  the same geometry (``MicGeom(pos_total=...)``), the same look points (``ImportGrid``), the
  same formulation (``steer_type``), c = 343 m/s and the reference point at the array-frame
  origin (``ref=[0, 0, 0]``, which is what acam's :mod:`acoustic_camera.beamform.steering` uses),
- disk caching off (``acoular.config.global_caching = 'none'``) so nothing is read back from
  an earlier run.

Window: Acoular's ``PowerSpectra`` offers Rectangular, Hanning, Hamming, Bartlett and
Blackman, but no Tukey, so both sides use the symmetric Hann window (Acoular ``'Hanning'`` =
``np.hanning``, acam ``window='hann'``); the cost of acam's kernels does not depend on the
window.

Level factor (acam / Acoular). With F = rfft(w * x) for one frame and h the steering vector:

- acam scales spectra to RMS, X = sqrt(2) F / sum(w) (bins >= 1; DC: F / sum(w)), and its power
  is |h^T X|^2 = 2 |h^T F|^2 / sum(w)^2;
- Acoular's CSM is C = 2 F F^H / (N sum(w^2) K) with N = 1024 the block size and K = 1 block
  (a power-spectral-density-like scaling: noise power is preserved, not sine amplitude), and
  ``BeamformerBase`` with the 'classic' steering returns h^H C h with the same h = e^{-jkr}/M
  (the constant phase of the reference distance cancels in |.|^2), i.e. 2 |h^T F|^2 / (N sum(w^2)).

So acam = k * Acoular with k = N sum(w^2) / sum(w)^2 -- the window's equivalent noise
bandwidth in bins, 1.5015 for the 1024-point symmetric Hann window -- on bins 1 .. 511, and
k / 2 on the DC bin (acam does not double DC; Acoular does). The benchmark also fits the scalar
by least squares and reports both.

Timing: acam (``backend='numba'``) end to end from raw samples, ``bf(samples)`` on a batch of
frames, best of repeats after a warm-up call (as in every acam benchmark, benchmarks/measure.py).
Acoular per frame: new TimeSamples, PowerSpectra and BeamformerBase (its caches are keyed on a checksum of the first sample row
only, so reusing one object for every frame is not safe), the CSM (Acoular computes all 513
bins of it, whatever is asked) and the beamformer for bins 0 .. 511; the steering object (its
distance tables) is shared between frames, as it would be. In ``--quick`` mode the beamformer
runs only on a spread subset of bins and its time is extrapolated linearly to 512 bins (the
work per bin does not depend on the frequency); the CSM is always timed whole.

Threads: Acoular, when imported after NumPy with OpenBLAS, sets Numba to ONE thread (to avoid
oversubscription with BLAS inside its jitted code); that setting is process-wide and would
throttle acam's Numba kernels too, so the benchmark restores Numba's full thread count after
the import. On a small machine shared with other processes, one thread can still beat all of
them, so each library is measured with 1 thread and with all of Numba's threads and gets the
faster of the two (Acoular: a probe on one frame decides, then the timed frames run with the
winner); both settings are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.measure import best_seconds

RESULTS = Path(__file__).parent / "results"
SAMPLE_FREQ = 12000.0
NFFT = 1024
N_BINS = NFFT // 2
ACOULAR_WINDOW, ACAM_WINDOW = "Hanning", "hann"
SOURCE_LOOK = (14, 31)  # (row, col) of the synthetic source, off-centre so a centre bias would show
SOURCE_BAND = (400.0, 5000.0)  # Hz: broadband, inside the 6 kHz Nyquist limit


def import_acoular():
    """Acoular with disk caching off and Numba's thread count left as it was (see module doc).

    Returns (acoular module, Numba threads both libraries run with)."""
    import numba

    with warnings.catch_warnings():
        # the OpenBLAS/Numba warning: its one-thread setting is undone just below
        warnings.simplefilter("ignore", UserWarning)
        import acoular
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    acoular.config.global_caching = "none"
    return acoular, numba.get_num_threads()


def point_source_frames(bf, n_frames: int, look=SOURCE_LOOK, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """(n_frames, 1024, M) float32: a broadband monopole at look point `look` plus sensor noise.

    The propagation is applied exactly in the frequency domain (delay r_m / c and 1/r_m
    spreading on every rfft bin, then irfft), so each frame is a periodic signal whose
    delays need no fractional-delay interpolation; a new random source spectrum per frame."""
    rng = np.random.default_rng(seed)
    mics = bf.geometry.positions
    r = np.linalg.norm(bf.grid.points[look][None, :] - mics, axis=1)  # (M,)
    f = np.fft.rfftfreq(NFFT, 1.0 / bf.sample_freq)
    band = (f >= SOURCE_BAND[0]) & (f <= SOURCE_BAND[1])
    out = np.empty((n_frames, NFFT, mics.shape[0]), np.float32)
    for n in range(n_frames):
        S = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) * band
        x = np.fft.irfft(S[:, None] * np.exp(-2j * np.pi * f[:, None] * r[None, :] / bf.c) / r[None, :], n=NFFT, axis=0)
        x /= np.sqrt(np.mean(x**2))
        x += rng.standard_normal(x.shape) * 10 ** (-snr_db / 20)
        out[n] = x
    return out


def acoular_steering(acoular, bf, steering: str):
    """Acoular's SteeringVector on acam's geometry, look points, c and reference point."""
    g = bf.geometry
    mics = acoular.MicGeom(pos_total=np.ascontiguousarray(g.positions.T, dtype=np.float64),
                           invalid_channels=[int(i) for i in np.flatnonzero(~g.good)])
    grid = acoular.ImportGrid(pos=np.ascontiguousarray(bf.grid.points.reshape(-1, 3).T, dtype=np.float64))
    return acoular.SteeringVector(grid=grid, mics=mics, env=acoular.Environment(c=bf.c), steer_type=steering,
                                  ref=np.zeros(3))


def acoular_frame(acoular, steer, frame: np.ndarray, sample_freq: float, bins) -> tuple[np.ndarray, float, float]:
    """One frame's map with Acoular: ((len(bins), points) float64, CSM seconds, beamformer seconds).

    `bins` is a slice (evaluated in one call) or a sequence of bin indices (one call each:
    Acoular's lazy result takes integers or slices, not index arrays)."""
    t0 = time.perf_counter()
    ts = acoular.TimeSamples(data=frame, sample_freq=sample_freq)
    ps = acoular.PowerSpectra(source=ts, block_size=NFFT, window=ACOULAR_WINDOW, overlap="None", cached=False)
    bb = acoular.BeamformerBase(freq_data=ps, steer=steer, r_diag=False, cached=False)
    ps.csm  # noqa: B018 -- computed (all bins) and kept by Acoular; timed apart from the beamformer
    t1 = time.perf_counter()
    if isinstance(bins, slice):
        res = np.array(bb.result[bins])
    else:
        res = np.stack([np.array(bb.result[int(i)]) for i in bins])
    return res, t1 - t0, time.perf_counter() - t1


def compare(frames: int = 4, quick: bool = False, *, steering: str = "classic", batch: int | None = None,
            repeats: int | None = None) -> dict:
    """Check acam's and Acoular's per-frame maps agree on `frames` frames, then time both.

    quick: 2 frames at most, Acoular on 17 spread bins (its beamformer time extrapolated to
    512 bins), a small acam batch; well under 30 s. Otherwise Acoular computes all 512 bins of
    every frame and those same maps are the ones checked.

    Returns a dict with: level_factor (least-squares fit, acam / Acoular, bins >= 1),
    level_factor_expected (N sum(w^2) / sum(w)^2), error (max over frames and compared bins >= 1
    of max |acam - factor * Acoular| / max(acam map), with the fitted factor), error_expected_factor,
    dc_error (bin 0 with factor / 2), peak_acam / peak_acoular / source (row, col) of the
    broadband peak and of the source, acam_volumes_per_s, acoular_volumes_per_s, speedup,
    extrapolated (a sentence, or None), the Numba thread count each library ran with and the
    figures for both settings tried (the Acoular ones from the one-frame probe, 16 bins scaled
    to 512: used only to pick its setting), and the settings used.
    """
    import numba

    from acoustic_camera import Camera, preset
    from acoustic_camera.beamform.beamformer import Beamformer

    acoular, threads = import_acoular()
    frames = max(1, min(frames, 2) if quick else frames)
    batch = batch or (8 if quick else 24)
    repeats = repeats or (2 if quick else 5)
    geom = preset("dualcam128")
    bf = Beamformer(geom, Camera(), SAMPLE_FREQ, window=ACAM_WINDOW, steering=steering, backend="numba")
    w = bf.window
    # the two windows must be the same array, or the comparison tests nothing
    assert np.allclose(w, getattr(np, ACOULAR_WINDOW.lower())(NFFT), rtol=0, atol=1e-12)
    expected = NFFT * np.sum(w**2) / np.sum(w) ** 2

    samples = point_source_frames(bf, frames)
    good = geom.good
    steer = acoular_steering(acoular, bf, steering)

    spread = np.linspace(1, N_BINS - 1, 16).round().astype(int)
    if quick:
        bins = np.unique(np.r_[0, spread])
        sel = bins
    else:
        bins = np.arange(N_BINS)
        sel = slice(0, N_BINS)
    frame0 = np.ascontiguousarray(samples[0][:, good])
    # Acoular warm-up on one bin: Numba compilation, distance tables
    acoular_frame(acoular, steer, frame0, SAMPLE_FREQ, [int(bins[-1])])
    # which thread setting suits Acoular here: one frame, CSM + 16 bins scaled to 512
    thread_options = sorted({1, threads})
    acoular_probe = {}
    for nt in thread_options:
        numba.set_num_threads(nt)
        _, tc, tb = acoular_frame(acoular, steer, frame0, SAMPLE_FREQ, spread)
        acoular_probe[nt] = 1.0 / (tc + tb * N_BINS / spread.size)
    acoular_threads = max(acoular_probe, key=acoular_probe.get)
    numba.set_num_threads(acoular_threads)

    ac_maps, t_csm, t_bf = [], [], []
    for n in range(frames):
        res, tc, tb = acoular_frame(acoular, steer, np.ascontiguousarray(samples[n][:, good]), SAMPLE_FREQ, sel)
        ac_maps.append(res)
        t_csm.append(tc)
        t_bf.append(tb)
    ac_maps = np.stack(ac_maps)  # (frames, bins, points)
    numba.set_num_threads(threads)
    acam_maps = bf(samples).reshape(frames, -1, N_BINS)[:, :, bins].transpose(0, 2, 1).astype(np.float64)

    nz = bins > 0
    a, b = acam_maps[:, nz], ac_maps[:, nz]
    fitted = float(np.sum(a * b) / np.sum(b * b))

    def rel_error(acam, acou, k):
        ref = acam.max(axis=-1, keepdims=True)
        return float(np.max(np.abs(acam - k * acou) / ref))

    error = rel_error(a, b, fitted)
    error_expected = rel_error(a, b, expected)
    dc_error = rel_error(acam_maps[:, ~nz], ac_maps[:, ~nz], expected / 2) if (~nz).any() else None
    # broadband map per frame over the compared bins >= 1; the peak must be the same look point
    shape = bf.grid.points.shape[:2]
    peaks_acam = [tuple(int(i) for i in np.unravel_index(np.argmax(m.sum(0)), shape)) for m in a]
    peaks_ac = [tuple(int(i) for i in np.unravel_index(np.argmax(m.sum(0)), shape)) for m in b]

    # acam end to end on a batch (the same synthetic signal, more frames)
    acam_samples = point_source_frames(bf, batch, seed=1)
    acam_by_threads = {}
    for nt in thread_options:
        numba.set_num_threads(nt)
        acam_by_threads[nt] = batch / best_seconds(lambda: bf(acam_samples), repeats)
    numba.set_num_threads(threads)  # leave the process as import_acoular() left it
    acam_threads = max(acam_by_threads, key=acam_by_threads.get)
    acam_vps = acam_by_threads[acam_threads]

    n_bf_bins = len(bins)
    t_frame = statistics.median(np.add(t_csm, np.multiply(t_bf, N_BINS / n_bf_bins)))
    acoular_vps = 1.0 / t_frame
    extrapolated = None
    if n_bf_bins != N_BINS:
        extrapolated = (f"Acoular beamformer timed on {n_bf_bins} of {N_BINS} bins (spread over 0..{N_BINS - 1}) "
                        f"per frame and scaled by {N_BINS}/{n_bf_bins}; its CSM (all 513 bins) timed whole")
    return {
        "steering": steering,
        "window": f"Hann (Acoular '{ACOULAR_WINDOW}', acam '{ACAM_WINDOW}'): Acoular has no Tukey window",
        "frames_compared": frames,
        "bins_compared": int(nz.sum()),
        "level_factor": fitted,
        "level_factor_expected": float(expected),
        "error": error,
        "error_expected_factor": error_expected,
        "dc_error": dc_error,
        "peak_acam": peaks_acam,
        "peak_acoular": peaks_ac,
        "source": list(SOURCE_LOOK),
        "acam_volumes_per_s": acam_vps,
        "acam_batch": batch,
        "acam_repeats": repeats,
        "acoular_volumes_per_s": acoular_vps,
        "acoular_csm_s": statistics.median(t_csm),
        "acoular_bf_s_per_bin": statistics.median(t_bf) / n_bf_bins,
        "acoular_frames_timed": frames,
        "speedup": acam_vps / acoular_vps,
        "extrapolated": extrapolated,
        "numba_threads": threads,
        "acam_threads": acam_threads,
        "acam_volumes_per_s_by_threads": acam_by_threads,
        "acoular_threads": acoular_threads,
        "acoular_probe_volumes_per_s_by_threads": acoular_probe,
        "acoular_version": acoular.__version__,
    }


def markdown(r: dict) -> str:
    """The comparison as a Markdown table with its agreement line."""
    same = "agree" if r["peak_acam"] == r["peak_acoular"] else "DIFFER"
    lines = [
        f"Agreement on {r['frames_compared']} frames x {r['bins_compared']} bins ('{r['steering']}' steering, Hann window): "
        f"max error {r['error']:.1e} of each map's maximum after the level factor {r['level_factor']:.4f} "
        f"(= N sum(w^2)/sum(w)^2: Acoular's CSM keeps noise power, acam's spectra keep sine amplitude); peaks {same}.",
        "",
        "| implementation | volumes/s | ms/volume |",
        "|---|---:|---:|",
        f"| acam numba, end to end from samples, {r['acam_batch']} frames/call | {r['acam_volumes_per_s']:.2f} | {1000 / r['acam_volumes_per_s']:.1f} |",
        f"| Acoular {r['acoular_version']} PowerSpectra (one-snapshot CSM) + BeamformerBase, per frame | "
        f"{r['acoular_volumes_per_s']:.3f} | {1000 / r['acoular_volumes_per_s']:.0f} |",
        f"| **acam speed-up** | **{r['speedup']:.0f}x** | |",
    ]
    if r["extrapolated"]:
        lines.append(f"\nExtrapolated: {r['extrapolated']}.")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=4, help="frames checked (and timed) with Acoular")
    ap.add_argument("--batch", type=int, default=None, help="frames per acam call (default 24, quick 8)")
    ap.add_argument("--repeats", type=int, default=None, help="acam repeats (default 5, quick 2)")
    ap.add_argument("--steering", default="classic", choices=("classic", "inverse", "true level", "true location"))
    ap.add_argument("--quick", action="store_true", help="a smoke run in well under 30 s (Acoular bins extrapolated)")
    args = ap.parse_args(argv)
    r = compare(args.frames, args.quick, steering=args.steering, batch=args.batch, repeats=args.repeats)

    same_peak = r["peak_acam"] == r["peak_acoular"]
    print(f"acam vs Acoular {r['acoular_version']}, DualCam shapes (128 mics, 36x48 points, 512 bins, 12 kHz), "
          f"'{r['steering']}' steering, Hann window; {os.cpu_count()} CPUs {platform.machine()}, "
          f"Numba threads: acam {r['acam_threads']}, Acoular {r['acoular_threads']} (the faster of 1 and {r['numba_threads']} for each)")
    print(f"agreement on {r['frames_compared']} frames x {r['bins_compared']} bins: max error {r['error']:.2e} "
          f"(relative to each map's max) with level factor {r['level_factor']:.6f} "
          f"(expected N sum(w^2)/sum(w)^2 = {r['level_factor_expected']:.6f}, error with it {r['error_expected_factor']:.2e}); "
          f"peaks {'agree' if same_peak else 'DIFFER'} at {r['peak_acam']} (source {tuple(r['source'])})")
    print("| implementation | volumes/s | ms/volume | x real time (12 fps) |")
    print("|---|---:|---:|---:|")
    for name, v in ((f"acam numba, bf(samples), {r['acam_batch']} frames/call", r["acam_volumes_per_s"]),
                    ("Acoular PowerSpectra + BeamformerBase, per frame", r["acoular_volumes_per_s"])):
        print(f"| {name} | {v:.3f} | {1000 / v:.1f} | {v / 12:.3f} |")
    print(f"| **acam speed-up** | **{r['speedup']:.0f}x** | | |")
    by = lambda d: ", ".join(f"{k} thread(s) {v:.3g}" for k, v in d.items())  # noqa: E731
    print(f"volumes/s by Numba threads: acam {by(r['acam_volumes_per_s_by_threads'])}; "
          f"Acoular probe {by(r['acoular_probe_volumes_per_s_by_threads'])}")
    if r["extrapolated"]:
        print(f"extrapolated: {r['extrapolated']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("acoular_quick.json" if args.quick else "acoular.json")
    out.write_text(json.dumps({**r, "cpus": os.cpu_count(), "machine": platform.machine(),
                               "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2))
    return r


if __name__ == "__main__":
    main()
