"""Real-time factor of the simulated DualCam, per scenario (128 mics, one moving source).

    python -m benchmarks.bench_simulator [--duration 10] [--repeats 3]

Writes a real session file (audio + video + truth) to a temporary directory, so the figure
includes drawing, compression and HDF5 I/O. A real-time factor above 1 means faster than
real time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from acoustic_camera.sim.simulator import SimConfig, Simulator, simulate_to_file
from acoustic_camera.sim.trajectories import SourceSpec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scenarios", default="anechoic,indoor,outdoor")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for scenario in args.scenarios.split(","):
            cfg = SimConfig(scenario=scenario, duration=args.duration, seed=1,
                            sources=(SourceSpec("speech", motion="walk"),))
            Simulator(SimConfig(scenario=scenario, duration=1.0))  # warm-up: Numba compile, caches
            walls, audio_only = [], []
            for _ in range(args.repeats):
                r = simulate_to_file(cfg, Path(d) / "s.h5", overwrite=True)
                walls.append(r["wall_s"])
                t0 = time.perf_counter()
                for _c in Simulator(cfg).chunks():
                    pass
                audio_only.append(time.perf_counter() - t0)
            w, a = statistics.median(walls), statistics.median(audio_only)
            rows.append({"scenario": scenario, "duration_s": args.duration, "wall_s": w,
                         "realtime_factor": args.duration / w, "simulate_only_s": a,
                         "simulate_only_rtf": args.duration / a})
    print(f"simulated DualCam (128 mics, 12 kHz, 640x480 @ 12 fps, one walking source), {args.duration:g} s, "
          f"median of {args.repeats}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print("| scenario | wall s (file) | real-time factor | simulate+draw only s | RTF |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scenario']} | {r['wall_s']:.2f} | {r['realtime_factor']:.2f}x | {r['simulate_only_s']:.2f} | {r['simulate_only_rtf']:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
