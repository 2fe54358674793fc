"""The short-time methods' speed: acam's fast path against Acoular's beamformers on the same CSMs
and bins, and against acam's own delay-and-sum.

    python -m benchmarks.bench_methods [--band 2000] [--frames 36] [--quick]

Shapes: the DualCam's 128 microphones, the 36 x 48 look grid (focus 3 m), a one-third-octave band
around ``--band`` Hz (39 bins at 2 kHz), CSMs of K = 12 frames (1 s) centred on each video frame.
Data: a simulated indoor session (whistling and speech), so CLEAN-SC's stop criterion meets
real maps.

- **acam**: :func:`acoustic_camera.beamform.methods.iter_band_maps` over ``--frames`` video
  frames from the session's samples (frames read, FFT, beam spectra, estimator, band sum),
  numpy + BLAS on this machine's cores: maps/s, best of repeats after a warm-up. Real time is
  12 maps/s (the camera's rate).
- **Acoular**: for one video frame, the same 12-frame CSM of the band's bins handed to
  ``PowerSpectraImport`` (so Acoular computes no spectra at all) and the counterpart's
  ``result`` for those bins: ``BeamformerBase(r_diag=False)`` (das), ``BeamformerBase(r_diag=True)``
  (das-diag), ``BeamformerFunctional(gamma=4)``, ``BeamformerCapon`` (on the CSM loaded as acam
  loads it: Acoular's Capon has no loading of its own) and ``BeamformerCleansc(n_iter=20)``;
  fresh objects per frame, caching off. Its time per map is the mean over ``--acoular-frames``
  frames.

The ratio acam / Acoular divides two figures measured in this run; the maps of the two agree
(tests/test_estimators.py), which is what makes the ratio fair.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.measure import best_seconds, machine_info, machine_line

RESULTS = Path(__file__).parent / "results"
METHODS = ("das", "das-diag", "functional", "capon", "cleansc")
REALTIME = 12.0  # maps per second: the DualCam's video rate


def third_octave(f0: float) -> tuple[float, float]:
    return f0 / 2 ** (1 / 6), f0 * 2 ** (1 / 6)


def _session(folder: Path, seconds: float) -> Path:
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    path = folder / "bench.h5"
    simulate_to_file(SimConfig(scenario="indoor", duration=seconds, seed=11, sources=(
        SourceSpec("whistling", position=(-0.8, 0.0, 3.0)), SourceSpec("speech", position=(0.7, 0.2, 3.0)))), path)
    return path


def acoular_map_seconds(acoular, bf, C: np.ndarray, freqs: np.ndarray, method: str, spec) -> float:
    """Seconds for Acoular's counterpart of ``method`` on CSM ``C`` (B, M, M) at ``freqs``."""
    from benchmarks.bench_acoular import acoular_steering

    cls, kw = {"das": (acoular.BeamformerBase, {"r_diag": False}), "das-diag": (acoular.BeamformerBase, {"r_diag": True}),
               "functional": (acoular.BeamformerFunctional, {"gamma": spec.nu}),
               "capon": (acoular.BeamformerCapon, {}),
               "cleansc": (acoular.BeamformerCleansc, {"n_iter": spec.n_iter, "damp": spec.damp, "stopn": spec.stopn}),
               }[method]
    if method == "capon":
        m = C.shape[-1]
        C = C + spec.loading * (np.trace(C, axis1=-2, axis2=-1).real / m)[:, None, None] * np.eye(m)
    steer = acoular_steering(acoular, bf, bf.steering)
    t = time.perf_counter()
    ps = acoular.PowerSpectraImport(csm=C.copy(), frequencies=freqs)
    b = cls(freq_data=ps, steer=steer, cached=False, **kw)
    for i in range(len(freqs)):
        np.asarray(b.result[i])
    return time.perf_counter() - t


def run(band_centre: float = 2000.0, frames: int = 36, acoular_frames: int = 2, repeats: int = 3,
        quick: bool = False) -> dict:
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.beamform.features import band_bins
    from acoustic_camera.beamform.methods import MethodSpec, iter_band_maps
    from acoustic_camera.beamform.spectra import gather_frames
    from acoustic_camera.framing import frame_windows
    from acoustic_camera.io.session import open_session
    from acoustic_camera.kernels import estimators as est

    if quick:
        frames, acoular_frames, repeats = 12, 1, 1
    band = third_octave(band_centre)
    out = {"machine": machine_info(), "band_hz": list(band), "frames": frames, "csm_frames": 12, "methods": {}}
    with tempfile.TemporaryDirectory() as d:
        path = _session(Path(d), (frames + 14) / 12.0)
        with open_session(path) as s:
            bf = Beamformer(s.geometry, s.camera, s.sample_freq, backend="numba")
            bins = band_bins(bf.freqs, band)
            out.update(bins=int(bins.size), points=bf.plan.n_points, mics=bf.plan.n_mics)
            centres = np.arange(6, 6 + frames)
            try:
                from benchmarks.bench_acoular import import_acoular

                acoular, _ = import_acoular()
            except ImportError:
                acoular = None
            starts, _ = frame_windows(s.frame_sample_index, bf.nfft, s.n_samples)
            X = bf.spectra(gather_frames(s.audio, starts, bf.nfft, s.n_samples, s.n_channels))
            for method in METHODS:
                spec = MethodSpec(method)

                def ours():
                    for _ in iter_band_maps(s.audio, s.frame_sample_index, s.n_samples, s.n_channels, bf, spec, band,
                                            centres=centres):
                        pass

                sec = best_seconds(ours, repeats=repeats)
                row = {"acam_maps_per_s": frames / sec}
                if acoular is not None:
                    total = 0.0
                    for c in centres[:: max(1, frames // acoular_frames)][:acoular_frames]:
                        C = est.short_time_csm(np, X, 12, bins, np.array([c]), total=len(X))[0]
                        total += acoular_map_seconds(acoular, bf, C, bf.freqs[bins], method, spec)
                    row["acoular_maps_per_s"] = acoular_frames / total
                    row["speedup"] = row["acam_maps_per_s"] / row["acoular_maps_per_s"]
                row["realtime"] = row["acam_maps_per_s"] >= REALTIME
                out["methods"][method] = row
                print(method, {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    das = out["methods"]["das"]["acam_maps_per_s"]
    for row in out["methods"].values():
        row["vs_das"] = row["acam_maps_per_s"] / das
    return out


def markdown(r: dict) -> str:
    lines = [f"{machine_line(r['machine'])}; {r['mics']} microphones, {r['points']} look points, "
             f"{r['bins']} bins ({r['band_hz'][0]:.0f}-{r['band_hz'][1]:.0f} Hz), 12-frame CSMs, {r['frames']} maps",
             "", "| method | acam maps/s | real time (12/s) | x das | Acoular maps/s | acam / Acoular |",
             "|---|---:|---|---:|---:|---:|"]
    for m, row in r["methods"].items():
        ac = row.get("acoular_maps_per_s")
        lines.append(f"| {m} | {row['acam_maps_per_s']:.1f} | {'yes' if row['realtime'] else 'no'} | "
                     f"{row['vs_das']:.2f} | {ac:.3f} | {row['speedup']:.0f}x |" if ac else
                     f"| {m} | {row['acam_maps_per_s']:.1f} | {'yes' if row['realtime'] else 'no'} | "
                     f"{row['vs_das']:.2f} | - | - |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--band", type=float, default=2000.0, help="one-third-octave band centre, Hz")
    ap.add_argument("--frames", type=int, default=36)
    ap.add_argument("--acoular-frames", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    r = run(a.band, a.frames, a.acoular_frames, a.repeats, a.quick)
    text = markdown(r)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    tag = "_quick" if a.quick else ""
    (RESULTS / f"methods{tag}.json").write_text(json.dumps(r, indent=1, default=float))
    (RESULTS / f"methods{tag}.md").write_text(text + "\n")
    return r


if __name__ == "__main__":
    main()
