"""Beamformer throughput on the DualCam shapes against the machine's ceiling, in one run.

    python -m benchmarks.bench_beamform [--repeats 7] [--quick] [--backends numba,cupy]

Rows (volumes/s, GFLOP/s at 0.906 GFLOP per volume = 8 x 128 x 1728 x 512, and the ratio to
the higher of two complex-GEMM peaks measured right before and right after each row; best of
``--repeats``, see :mod:`benchmarks.measure`):

- ``complex GEMM peak``: a 1024^3 complex64 matmul through the installed BLAS.
- ``numpy stored-table matmul``: the per-bin (1728 x 128) @ (128 x 24) products with a
  steering table already in memory (one block of 16 bins, scaled to 512), then |.|^2: the
  ceiling of a CPU beamformer built on BLAS calls.
- ``numba`` end to end from raw samples (windowing, FFT, steering, power) at 24 frames per call
  and at 1 frame per call (the live view's case).
- ``cupy`` with the stored steering table and with the steering made on the fly (recurrence):
  end to end from samples already on the device, next to the device's own complex-GEMM peak.
- cold process: a new Python process's first 24-frame call against its second call, with the
  kernels already in the disk cache, and with an empty cache (the first run ever on a machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.measure import best_seconds, gemm_peak, machine_info, machine_line

GFLOP_PER_VOLUME = 8 * 128 * 1728 * 512 / 1e9
RESULTS = Path(__file__).parent / "results"

_COLD = """
import json, time, numpy as np
t0 = time.perf_counter()
from acoustic_camera import Camera, preset
from acoustic_camera.beamform.beamformer import Beamformer
bf = Beamformer(preset("dualcam128"), Camera(), 12288.0, backend="numba")
x = np.random.default_rng(0).standard_normal((24, 1024, 128)).astype(np.float32)
t1 = time.perf_counter(); bf(x); t2 = time.perf_counter(); bf(x); t3 = time.perf_counter()
print(json.dumps({"import_and_plan_s": t1 - t0, "first_call_s": t2 - t1, "second_call_s": t3 - t2}))
"""


def cold_process(cache_dir: str | None) -> dict:
    """One new process's first and second 24-frame call; ``cache_dir``: ACAM_CACHE_DIR for it
    (None: the user's own cache, as installed)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["ACAM_CACHE_DIR"] = cache_dir
    r = subprocess.run([sys.executable, "-c", _COLD], env=env, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError(f"cold-process run failed:\n{r.stderr[-2000:]}")
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["first_call_over_warm_s"] = d["first_call_s"] - d["second_call_s"]
    return d


def _row(name, batch, dt, peak, **extra):
    return {"name": name, "batch": batch, "volumes_per_s": batch / dt, "gflops": batch * GFLOP_PER_VOLUME / dt,
            "ratio": batch * GFLOP_PER_VOLUME / dt / peak, "peak_gflops": peak, **extra}


def bracketed(name, batch, seconds, repeats) -> dict:
    """A row whose ratio divides by the higher of two GEMM peaks, measured right before and
    right after it (the conservative reading on a machine whose speed drifts)."""
    before = gemm_peak(repeats)
    dt = seconds()
    return _row(name, batch, dt, max(before, gemm_peak(repeats)))


def cpu_rows(repeats: int, quick: bool) -> list[dict]:
    from acoustic_camera import Camera, preset
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.kernels.formulation import block_power, steering_table

    rng = np.random.default_rng(0)
    geom = preset("dualcam128")
    peak = gemm_peak(repeats)
    rows = [{"name": "complex GEMM peak (1024^3 complex64, BLAS)", "gflops": peak, "volumes_per_s": peak / GFLOP_PER_VOLUME,
             "ratio": 1.0, "peak_gflops": peak}]
    bf = Beamformer(geom, Camera(), 12288.0, backend="numba")
    batch = 6 if quick else 24
    samples = rng.standard_normal((batch, 1024, 128)).astype(np.float32)
    nb = 16
    W = steering_table(np, bf.plan.tau, bf.plan.amp, bf.plan.freqs[:nb])
    Xb = np.ascontiguousarray(bf.spectra(samples)[:, :, :nb].transpose(2, 1, 0))
    rows.append(bracketed(f"numpy stored-table matmul ({batch} frames/call)", batch,
                          lambda: best_seconds(lambda: block_power(np, W, Xb), repeats) * (512 / nb), repeats))
    for b in (batch, 1):
        x = samples[:b]
        calls = 1 if b > 1 else 8  # one frame is ~15 ms: time a few calls together
        rows.append(bracketed(f"numba end to end ({b} frame{'s' if b > 1 else ''}/call)", b,
                              lambda: best_seconds(lambda: [bf(x) for _ in range(calls)], repeats) / calls, repeats))
    return rows


def gpu_rows(repeats: int, quick: bool) -> list[dict]:
    from acoustic_camera.kernels.base import gpu_available

    if not gpu_available():
        return [{"name": f"cupy {s}", "skipped": "no GPU visible to CuPy"} for s in ("table", "recurrence")]
    import cupy as cp

    from acoustic_camera import Camera, preset
    from acoustic_camera.beamform.spectra import spectra_xp
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.kernels.cupy_backend import CupyBackend

    n = 4096 if not quick else 256
    a = cp.asarray((np.random.default_rng(0).standard_normal((n, n)) + 1j).astype(np.complex64))

    def sync(f):
        def g():
            f()
            cp.cuda.Device().synchronize()
        return g

    peak = 8 * n**3 / best_seconds(sync(lambda: a @ a), repeats) / 1e9
    rows = [{"name": f"cupy complex GEMM peak ({n}^3 complex64, cuBLAS)", "gflops": peak,
             "volumes_per_s": peak / GFLOP_PER_VOLUME, "ratio": 1.0, "peak_gflops": peak}]
    bf = Beamformer(preset("dualcam128"), Camera(), 12288.0, backend="numpy")
    batch = 64 if quick else 1024
    x = cp.asarray(np.random.default_rng(1).standard_normal((batch, 1024, 128)).astype(np.float32))
    for steering in ("table", "recurrence"):
        be = CupyBackend(steering)
        run = sync(lambda: be.power(bf.plan, spectra_xp(cp, x, bf.window, bf.good)))
        dt = best_seconds(run, repeats)
        rows.append(_row(f"cupy {steering} end to end on device ({batch} frames/call)", batch, dt, peak))
    return rows


def cold_rows(quick: bool = False) -> list[dict]:
    """A new process with the kernels cached, and (not in quick mode: ~20 s of compiling) one
    with an empty cache, the first run on a machine."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        if not quick:
            rows.append({"name": "cold process, empty kernel cache (first run on a machine)", **cold_process(d)})
        rows.append({"name": "cold process, kernels cached on disk", **cold_process(None if quick else d)})
    return rows


def run(repeats: int = 7, quick: bool = False, backends=("numba", "cupy")) -> dict:
    repeats = 2 if quick else repeats
    res = {"machine": machine_info(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "repeats": repeats}
    res["rows"] = cpu_rows(repeats, quick) if "numba" in backends else []
    res["gpu"] = gpu_rows(repeats, quick) if "cupy" in backends else []
    res["cold"] = cold_rows(quick) if "numba" in backends else []
    return res


def markdown(res: dict) -> str:
    lines = [machine_line(res["machine"]), "",
             f"best of {res['repeats']}; ratio = GFLOP/s over the higher of the complex-GEMM peaks measured just "
             "before and just after the row",
             "", "| kernel | volumes/s | GFLOP/s | ratio to GEMM peak | x real time (12 fps) |", "|---|---:|---:|---:|---:|"]
    for r in res["rows"] + res["gpu"]:
        if "skipped" in r:
            lines.append(f"| {r['name']} | skipped: {r['skipped']} | | | |")
        else:
            lines.append(f"| {r['name']} | {r['volumes_per_s']:.1f} | {r['gflops']:.1f} | {r['ratio']:.2f} | "
                         f"{r['volumes_per_s'] / 12:.1f} |")
    if res["cold"]:
        lines += ["", "| new process | import + plan | first 24-frame call | second call | first over warm |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {c['name']} | {c['import_and_plan_s']:.2f} s | {c['first_call_s']:.2f} s | {c['second_call_s']:.2f} s | "
                  f"{c['first_call_over_warm_s']:.2f} s |" for c in res["cold"]]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="a smoke run in well under a minute")
    ap.add_argument("--backends", default="numba,cupy")
    args = ap.parse_args(argv)
    res = run(args.repeats, args.quick, tuple(args.backends.split(",")))
    print(markdown(res))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("beamform_quick.json" if args.quick else "beamform.json")
    out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
