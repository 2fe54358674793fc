"""What every benchmark shares: the machine it ran on, the complex-GEMM ceiling, and timing.

Timing is best-of-k (the shortest of k calls after a warm-up): on a shared machine a neighbour
only ever makes a call slower, so the shortest call is the best estimate of what the code costs.
A ratio always divides two figures measured in the same run, the GEMM peak measured right
before the kernel it is compared with.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def best_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """The shortest wall time of ``repeats`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def gemm_peak(repeats: int = 5, n: int = 1024) -> float:
    """GFLOP/s of an n^3 complex64 matrix product through the installed BLAS (8 flops per complex
    multiply-add), best of ``repeats``; then a pause, so BLAS threads that spin after a call
    have gone to sleep before whatever is timed next."""
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))).astype(np.complex64)
    b = a.copy()
    dt = best_seconds(lambda: a @ b, repeats)
    time.sleep(0.2)
    return 8 * n**3 / dt / 1e9


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        return platform.processor()


def isa() -> str:
    """The vector extensions the kernels are compiled for on this CPU."""
    from llvmlite import binding

    feats = binding.get_host_cpu_features()
    have = [x for x in ("avx512f", "avx2", "fma", "neon", "sve") if feats.get(x)]
    return f"{binding.get_host_cpu_name()} ({', '.join(have) or 'no wide vectors'})"


def blas() -> str:
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            return "; ".join(f"{i['internal_api']} {i.get('version') or ''} {i.get('architecture') or ''}".strip() for i in libs)
    except Exception:  # threadpoolctl is optional: fall back to numpy's build record
        pass
    try:
        cfg = np.show_config(mode="dicts")
        return f"{cfg['Build Dependencies']['blas']['name']} {cfg['Build Dependencies']['blas'].get('version', '')}"
    except Exception:
        return "unknown"


def machine_info() -> dict:
    import numba

    from acoustic_camera.kernels.numba_backend import LANES

    return {"cpu": cpu_model(), "isa": isa(), "blas": blas(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "numba_threads": numba.get_num_threads(), "kernel": f"acam simd, {LANES} points per vector",
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "")}


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cpus']} CPUs, ISA {m['isa']}; kernel: {m['kernel']}, numba {m['numba']} "
            f"({m['numba_threads']} threads); BLAS: {m['blas']}"
            + (f", OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}" if m.get("OPENBLAS_CORETYPE") else ""))
