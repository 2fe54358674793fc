"""What `acam listen` separates: the README's "Listening to a pixel" table, measured on the simulator.

    python -m benchmarks.listen_table [--seconds 4] [--seed 4]

Speech at (-0.7, 0.1, 3) m and hammering at (0.8, -0.1, 3) m sound together (the hammering 26-31 dB
above the speech from 1 to 6 kHz at the array) in each scenario, 128 microphones. The speech's
SI-SDR against its direct sound is measured at microphone 0 (against the direct sound there) and
for each way of listening toward it (against the direct sound at the array's reference point,
which is what they return); the table gives microphone 0's figure and each gain over it, in dB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

SPEECH, HAMMER = (-0.7, 0.1, 3.0), (0.8, -0.1, 3.0)
WAYS = (("das", {}), ("mvdr", {}), ("mvdr", {"loading": 0.01}))


def at_mic(direct, source, mic, fs, c=343.0):
    r0, rm = np.linalg.norm(source), np.linalg.norm(np.asarray(source) - mic)
    n = 2 * len(direct)
    f = np.fft.rfftfreq(n, 1 / fs)
    return np.fft.irfft(np.fft.rfft(direct, n) * np.exp(-2j * np.pi * f * (rm - r0) / c), n)[:len(direct)] * r0 / rm


def run(seconds: float = 4.0, seed: int = 4, scenarios=("anechoic", "indoor", "outdoor")) -> list[dict]:
    from acoustic_camera.beamform.listen import ListenSpec, listen, si_sdr
    from acoustic_camera.io.session import open_session
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    rows = []
    with tempfile.TemporaryDirectory() as d:
        for scen in scenarios:
            p = Path(d) / f"{scen}.h5"
            r = simulate_to_file(SimConfig(scenario=scen, duration=seconds, seed=seed, sources=(
                SourceSpec("speech", position=SPEECH), SourceSpec("hammering", position=HAMMER))), p, direct=True)
            ref = r["direct"][:, 0]
            with open_session(p) as s:
                base = si_sdr(s.audio(0, s.n_samples)[:, 0], at_mic(ref, SPEECH, s.geometry.positions[0], s.sample_freq))
            row = {"scenario": scen, "mic0_db": base}
            for method, kw in WAYS:
                t = time.perf_counter()
                y, _ = listen(p, truth=0, spec=ListenSpec(method, **kw))
                name = method + (f" loading {kw['loading']:g}" if kw else "")
                row[name] = si_sdr(y, ref) - base
                row[name + " seconds"] = time.perf_counter() - t
            rows.append(row)
            print(row, flush=True)
    return rows


def markdown(rows) -> str:
    names = [m + (f" loading {kw['loading']:g}" if kw else "") for m, kw in WAYS]
    out = ["| scenario | microphone 0 | " + " | ".join(f"{n}: gain" for n in names) + " |", "|---" * (len(names) + 2) + "|"]
    for r in rows:
        out.append(f"| {r['scenario']} | {r['mic0_db']:.1f} dB | " + " | ".join(f"{r[n]:+.1f} dB" for n in names) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args(argv)
    print(markdown(run(a.seconds, a.seed)))


if __name__ == "__main__":
    main()
