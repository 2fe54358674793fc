"""How the numba beamformer's cost grows: with microphones, look points, bins, threads and batch.

    python -m benchmarks.bench_scaling [--quick]

Best of `repeats` per row. Cost should grow as mics x points x bins (the work is 8 flops per
complex multiply-add); the table gives GFLOP/s for each shape, so a constant column means linear
scaling and a drop shows where it stops. Also volumes/s against batch size next to the
complex-GEMM roofline, as a plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.measure import best_seconds, gemm_peak

RESULTS = Path(__file__).parent / "results"


def _rate(bf, batch, repeats, rng):
    x = rng.standard_normal((batch, bf.nfft, bf.geometry.n_mics)).astype(np.float32)
    dt = best_seconds(lambda: bf(x), repeats)
    m, (r, c, f) = int(bf.good.sum()), bf.volume_shape
    return batch / dt, 8 * m * r * c * f * batch / dt / 1e9


def _geometry(n, rng):
    from acoustic_camera.array.geometry import ArrayGeometry, preset

    if n == 128:
        return preset("dualcam128")
    return ArrayGeometry(np.c_[rng.uniform(-0.225, 0.225, (n, 2)), np.zeros(n)], name=f"random{n}")


def run(quick=False, repeats=3):
    import numba

    from acoustic_camera import Camera
    from acoustic_camera.beamform.beamformer import Beamformer

    rng = np.random.default_rng(0)
    repeats = 1 if quick else repeats
    peak = gemm_peak(2 if quick else 5)
    batch = 6 if quick else 24
    cam = Camera()
    rows = []

    def row(kind, value, bf, b=batch):
        vps, gf = _rate(bf, b, repeats, rng)
        rows.append({"vary": kind, "value": value, "volumes_per_s": vps, "gflops": gf, "batch": b,
                     "mics": int(bf.good.sum()), "points": bf.grid.n_points, "bins": bf.freqs.size})

    for m in ((16, 128) if quick else (16, 64, 128, 256)):
        row("mics", m, Beamformer(_geometry(m, rng), cam, 12000.0, backend="numba"))
    dual = _geometry(128, rng)
    for g in (((18, 24),) if quick else ((18, 24), (36, 48), (72, 96))):
        row("grid", f"{g[0]}x{g[1]}", Beamformer(dual, cam, 12000.0, grid=g, backend="numba"))
    for nfft in ((256,) if quick else (256, 512, 1024, 2048)):
        row("bins", nfft // 2, Beamformer(dual, cam, 12000.0, nfft=nfft, backend="numba"))
    threads = numba.get_num_threads()
    for t in sorted({1, threads}):
        numba.set_num_threads(t)
        row("threads", t, Beamformer(dual, cam, 12000.0, backend="numba"))
    numba.set_num_threads(threads)
    bf = Beamformer(dual, cam, 12000.0, backend="numba")
    for b in ((1, 6) if quick else (1, 4, 12, 24, 48)):
        row("batch", b, bf, b)
    # the same batches through numpy's batched matmul with a stored steering table (one block of
    # 16 bins, scaled to 512): the BLAS-only ceiling of a table-based CPU beamformer
    from acoustic_camera.kernels.formulation import block_power, steering_table

    W = steering_table(np, bf.plan.tau, bf.plan.amp, bf.plan.freqs[:16])
    table_rows = []
    for b in ((1, 6) if quick else (1, 4, 12, 24, 48)):
        X = bf.spectra(rng.standard_normal((b, 1024, 128)).astype(np.float32))
        Xb = np.ascontiguousarray(X[:, :, :16].transpose(2, 1, 0))  # (bins, mics, frames)
        dt = best_seconds(lambda: block_power(np, W, Xb), repeats) * 32
        table_rows.append({"batch": b, "volumes_per_s": b / dt})
    return {"rows": rows, "numpy_table": table_rows, "gemm_peak_gflops": peak, "gflop_per_volume": 8 * 128 * 1728 * 512 / 1e9}


def plot_batch(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r["vary"] == "batch"]
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    ax.plot([r["value"] for r in rows], [r["volumes_per_s"] for r in rows], "o-", label="numba backend, end to end")
    if "numpy_table" in result:
        nt = result["numpy_table"]
        ax.plot([r["batch"] for r in nt], [r["volumes_per_s"] for r in nt], "s--", label="numpy stored-table matmul")
    roof = result["gemm_peak_gflops"] / result["gflop_per_volume"]
    ax.axhline(roof, color="k", ls=":", label=f"complex-GEMM roofline ({roof:.0f} volumes/s)")
    ax.axhline(12, color="tab:red", ls="-.", lw=1, label="real time (12 fps)")
    ax.set_xscale("log")
    ax.set_xlabel("frames per batch")
    ax.set_ylabel("volumes / s (128 mics, 36x48, 512 bins)")
    ax.set_ylim(0, roof * 1.15)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result) -> str:
    peak = result["gemm_peak_gflops"]
    lines = ["| varied | value | mics | points | bins | batch | volumes/s | GFLOP/s | ratio to GEMM peak |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['vary']} | {r['value']} | {r['mics']} | {r['points']} | {r['bins']} | {r['batch']} | "
                     f"{r['volumes_per_s']:.1f} | {r['gflops']:.1f} | {r['gflops'] / peak:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.quick)
    print(f"complex-GEMM peak this run: {res['gemm_peak_gflops']:.1f} GFLOP/s")
    print(markdown(res))
    RESULTS.mkdir(exist_ok=True)
    tag = "_quick" if args.quick else ""
    (RESULTS / f"scaling{tag}.json").write_text(json.dumps(res, indent=2))
    plot_batch(res, RESULTS / f"batch{tag}.png")
    return res


if __name__ == "__main__":
    main()
