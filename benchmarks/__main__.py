"""All benchmarks in one run: `python -m benchmarks [--quick]` (or `make bench`).

Prints one Markdown report and writes it, with the raw figures as JSON and the batch-size plot,
under benchmarks/results/ (`summary.md`, `summary.json`, `batch.png`; `*_quick.*` in quick mode).
Every ratio compares figures measured in this same run: the machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.measure import machine_info, machine_line

RESULTS = Path(__file__).parent / "results"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run, well under a minute")
    args = ap.parse_args(argv)
    from benchmarks import bench_e2e, bench_scaling, bench_simulator
    from benchmarks.bench_beamform import main as kernels_main

    t0 = time.perf_counter()
    q = ["--quick"] if args.quick else []
    out = {"machine": machine_info(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    sections = []
    print("== kernels ==")
    out["kernels"] = kernels_main(q)
    print("== scaling ==")
    out["scaling"] = bench_scaling.run(args.quick)
    RESULTS.mkdir(exist_ok=True)
    tag = "_quick" if args.quick else ""
    bench_scaling.plot_batch(out["scaling"], RESULTS / f"batch{tag}.png")
    sections.append("### Scaling (numba backend)\n\n" + bench_scaling.markdown(out["scaling"]))
    print(sections[-1])
    import numba

    threads = numba.get_num_threads()
    try:
        from benchmarks import bench_acoular

        print("== acoular ==")
        out["acoular"] = bench_acoular.compare(quick=args.quick)
        numba.set_num_threads(threads)  # importing Acoular can leave Numba on one thread
        sections.append("### Against Acoular\n\n" + bench_acoular.markdown(out["acoular"]))
        print(sections[-1])
    except ImportError as exc:
        sections.append(f"### Against Acoular\n\nskipped: {exc}")
    if not args.quick:  # Acoular's CLEAN-SC alone takes minutes: the full run only
        from benchmarks import bench_methods

        print("== short-time methods ==")
        out["methods"] = bench_methods.run()
        numba.set_num_threads(threads)
        sections.append("### Short-time methods against Acoular\n\n" + bench_methods.markdown(out["methods"]))
        print(sections[-1])
    print("== end to end ==")
    out["e2e"] = bench_e2e.run(quick=args.quick)
    sections.append("### End to end\n\n" + bench_e2e.markdown(out["e2e"]))
    print(sections[-1])
    print("== simulator ==")
    out["simulator"] = bench_simulator.main(["--duration", "2" if args.quick else "10", "--repeats", "1" if args.quick else "2"]
                                            + (["--scenarios", "indoor"] if args.quick else []))
    from benchmarks.bench_beamform import markdown as kernels_markdown

    head = f"## acam benchmarks ({out['time']})\n\n{machine_line(out['machine'])}, numpy {out['machine']['numpy']}\n"
    kern = "### Kernels (DualCam shapes: 128 mics, 36x48, 512 bins)\n\n" + kernels_markdown(out["kernels"])
    sim = ["### Simulator (10 s, one walking source, 128 mics)" if not args.quick else "### Simulator", "",
           "| scenario | real-time factor (with file) |", "|---|---:|"]
    sim += [f"| {r['scenario']} | {r['realtime_factor']:.2f}x |" for r in out["simulator"]]
    report = "\n\n".join([head, kern, *sections, "\n".join(sim)]) + "\n"
    out["seconds"] = time.perf_counter() - t0
    (RESULTS / f"summary{tag}.md").write_text(report)
    (RESULTS / f"summary{tag}.json").write_text(json.dumps(out, indent=2, default=str))
    print(f"\nwrote {RESULTS / f'summary{tag}.md'}, summary{tag}.json, batch{tag}.png in {out['seconds']:.0f} s")
    return out


if __name__ == "__main__":
    main()
