"""Beamformer throughput on the DualCam shapes against the machine's ceilings, in one run.

    python -m benchmarks.bench_beamform [--batch 24] [--repeats 3] [--quick]

Rows (volumes/s, GFLOP/s at 0.906 GFLOP per volume = 8 x 128 x 1728 x 512, and the ratio to
the complex-GEMM peak measured in the same run):

- ``complex GEMM peak``: a 1024^3 complex64 matmul through the installed BLAS.
- ``numpy stored-table matmul``: the per-bin (1728 x 128) @ (128 x batch) products with a
  steering table already in memory (one bin block, extrapolated to 512 bins), then |.|^2.
- ``numba`` / ``cupy`` backends end to end from raw samples: windowing, FFT, steering, power.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

GFLOP_PER_VOLUME = 8 * 128 * 1728 * 512 / 1e9
RESULTS = Path(__file__).parent / "results"


def timeit_median(fn, repeats):
    """Median seconds of `repeats` calls after one warm-up call (JIT, steering tables, allocator)."""
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def gemm_peak(repeats=5, n=1024):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))).astype(np.complex64)
    b = a.copy()
    dt = timeit_median(lambda: a @ b, repeats)
    return 8 * n**3 / dt / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=24, help="frames per kernel call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a smoke run in well under a minute")
    ap.add_argument("--backends", default="numba,cupy")
    args = ap.parse_args(argv)
    from acoustic_camera import Camera, preset
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.kernels.base import gpu_available

    repeats = 1 if args.quick else args.repeats
    batch = min(args.batch, 6) if args.quick else args.batch
    rng = np.random.default_rng(0)
    geom = preset("dualcam128")
    samples = rng.standard_normal((batch, 1024, 128)).astype(np.float32)
    peak = gemm_peak(2 if args.quick else 5)
    rows = [{"name": "complex GEMM peak (1024^3 complex64, BLAS)", "gflops": peak, "volumes_per_s": peak / GFLOP_PER_VOLUME}]

    bf = Beamformer(geom, Camera(), 12000.0, backend="numpy")
    X = bf.spectra(samples)
    nb = 16
    from acoustic_camera.kernels.formulation import block_power, steering_table

    W = steering_table(np, bf.plan.tau, bf.plan.amp, bf.plan.freqs[:nb])
    Xb = np.ascontiguousarray(X[:nb])
    dt = timeit_median(lambda: block_power(np, W, Xb), repeats) * (512 / nb)
    rows.append({"name": f"numpy stored-table matmul ({batch} frames/batch)", "volumes_per_s": batch / dt,
                 "gflops": batch * GFLOP_PER_VOLUME / dt})

    for name in args.backends.split(","):
        if name == "cupy" and not gpu_available():
            rows.append({"name": "cupy", "skipped": "no GPU visible to CuPy"})
            continue
        b = Beamformer(geom, Camera(), 12000.0, backend=name)
        if name == "cupy":
            import cupy as cp

            def run():
                b(samples)
                cp.cuda.Device().synchronize()
        else:
            def run():
                b(samples)
        dt = timeit_median(run, repeats)
        rows.append({"name": f"{name} end to end ({batch} frames/batch)", "volumes_per_s": batch / dt,
                     "gflops": batch * GFLOP_PER_VOLUME / dt})

    print(f"beamformer, DualCam shapes (128 mics, 36x48 grid, 512 bins); {os.cpu_count()} CPUs "
          f"{platform.machine()}; median of {repeats}; ratio = GFLOP/s / complex-GEMM peak of this run")
    print("| kernel | volumes/s | GFLOP/s | ratio to GEMM peak | x real time (12 fps) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['name']} | skipped: {r['skipped']} | | | |")
        else:
            print(f"| {r['name']} | {r['volumes_per_s']:.1f} | {r['gflops']:.1f} | {r['gflops'] / peak:.2f} | {r['volumes_per_s'] / 12:.1f} |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("beamform_quick.json" if args.quick else "beamform.json")
    out.write_text(json.dumps({"rows": rows, "batch": batch, "cpus": os.cpu_count(), "machine": platform.machine(),
                               "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2))
    return rows


if __name__ == "__main__":
    main()
