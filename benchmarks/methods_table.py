"""Where each short-time method puts a source: the localisation table of the README's "Short-time
cross-spectral methods" (issue 15), measured on the simulator.

    python -m benchmarks.methods_table [--scenarios indoor] [--seconds 3] [--out table.json]

For each scenario and each of three places in the picture, a static whistling source is
simulated (seeded; 128-mic DualCam, 36 x 48 look grid, focus 3 m). For every method and band a
frame counts as found when its map's peak lies within ``max(one acoustic pixel, a quarter of the
main-lobe width)`` of the source, as angles seen from the array's centre (the main lobe's -3 dB
width from :func:`acoustic_camera.array.beampattern.mainlobe_width` at the band's geometric
centre; one pixel: the angle between neighbouring look points there). Only frames whose
analysed window has the source sounding (``truth.active``) count. The band's bins are added
both ways (``--bin-weighting power`` and ``equal``). Prints Markdown tables of "found / frames"
per method and band and writes the details (with each cell's median error) as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

PLACES = ((-0.8, 0.0, 3.0), (0.0, 0.2, 3.0), (0.9, -0.3, 3.0))
BANDS = ((1000.0, 2000.0), (2000.0, 4000.0), (4000.0, 6000.0))
METHODS = (("das", 1), ("das", 12), ("das-diag", 12), ("functional", 12), ("capon", 12), ("cleansc", 12))
WEIGHTINGS = ("power", "equal")  # acoustic_camera.beamform.methods.WEIGHTINGS


def angle_deg(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def tolerance_deg(bf, at, band) -> float:
    """max(one look-grid step, a quarter of the main lobe) in degrees, near look point ``at`` (row, col)."""
    from acoustic_camera.array.beampattern import mainlobe_width

    pts = bf.grid.points
    r, c = at
    c2 = c + 1 if c + 1 < pts.shape[1] else c - 1
    step = float(angle_deg(pts[r, c], pts[r, c2]))
    lobe = mainlobe_width(bf.geometry.positions[bf.good][:, :2], float(np.sqrt(band[0] * band[1])))
    return max(step, lobe / 4.0)


def measure(scenario: str, seconds: float, seed: int, folder: Path, progress=print) -> list[dict]:
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.beamform.methods import MethodSpec, band_maps
    from acoustic_camera.io.session import open_session
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    rows = []
    for i, place in enumerate(PLACES):
        path = folder / f"{scenario}-{i}.h5"
        simulate_to_file(SimConfig(scenario=scenario, duration=seconds, seed=seed + i,
                                   sources=(SourceSpec("whistling", position=place),)), path)
        with open_session(path) as s:
            bf = Beamformer(s.geometry, s.camera, s.sample_freq, backend="numba")
            active = s.truth.active[:, 0]
            pos = s.truth.position[:, 0]
            for band in BANDS:
                truth_cell = np.unravel_index(np.argmin(angle_deg(bf.grid.points.reshape(-1, 3), pos[0])), bf.grid.shape)
                tol = tolerance_deg(bf, truth_cell, band)
                for weighting in WEIGHTINGS:
                    for method, k in METHODS:
                        t0 = time.perf_counter()
                        maps = band_maps(s.audio, s.frame_sample_index, s.n_samples, s.n_channels, bf,
                                         MethodSpec(method, csm_frames=k, weighting=weighting), band)
                        err = angle_deg(bf.grid.points.reshape(-1, 3)[maps.reshape(len(maps), -1).argmax(-1)], pos)[active]
                        hit = err <= tol
                        rows.append({"scenario": scenario, "place": i, "position": place, "band": band,
                                     "method": method, "csm_frames": k, "weighting": weighting, "found": int(hit.sum()),
                                     "frames": int(hit.size), "median_error_deg": float(np.median(err)),
                                     "tolerance_deg": tol, "seconds": time.perf_counter() - t0})
                        progress(f"{scenario} place {i} {band[0]:g}-{band[1]:g} Hz {method}/{k}/{weighting}: "
                                 f"{hit.sum()}/{hit.size} (median {np.median(err):.1f} deg, tol {tol:.1f} deg, "
                                 f"{rows[-1]['seconds']:.1f} s)")
    return rows


FIGURE = (("the kernel's image (one frame, power)", "das", 1, "power"), ("das, 1-s CSM, power", "das", 12, "power"),
          ("das, 1-s CSM, equal weights", "das", 12, "equal"))


def figure(out: Path, seconds: float = 3.0, seed: int = 7, frame: int = 17, band=(1000.0, 2000.0)) -> None:
    """One frame of the office's left-hand place (PLACES[0]) at 1-2 kHz, three ways side by side,
    the top 3 dB of each map (its main lobe is 30 degrees wide there), the true source a green
    cross, the map's peak a white one: the README's picture."""
    import cv2

    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.beamform.methods import MethodSpec, iter_band_maps
    from acoustic_camera.io.session import open_session
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec
    from acoustic_camera.view.render import RenderOptions, overlay_frame

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "office.h5"
        simulate_to_file(SimConfig(scenario="indoor", duration=seconds, seed=seed,
                                   sources=(SourceSpec("whistling", position=PLACES[0]),)), path)
        with open_session(path) as s:
            bf = Beamformer(s.geometry, s.camera, s.sample_freq, backend="numba")
            opts = RenderOptions(band=band, dynamic_range_db=3.0)
            panels = []
            for title, method, k, weighting in FIGURE:
                (_, maps), = list(iter_band_maps(s.audio, s.frame_sample_index, s.n_samples, s.n_channels, bf,
                                                 MethodSpec(method, csm_frames=k, weighting=weighting), band,
                                                 centres=[frame]))
                e = 10 * np.log10(np.maximum(maps[0], 1e-30))
                img = overlay_frame(s.frame(frame), e, float(e.max()), opts, s.truth.pixel[frame])
                u, v = bf.grid.pixels[np.unravel_index(int(np.argmax(e)), e.shape)]
                cv2.drawMarker(img, (int(u), int(v)), (255, 255, 255), cv2.MARKER_CROSS, 28, 3, cv2.LINE_AA)
                cv2.putText(img, title, (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
                cv2.putText(img, title, (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
                panels.append(img)
    pic = cv2.resize(np.concatenate(panels, axis=1), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(out), pic[:, :, ::-1])


def markdown(rows, weighting: str) -> str:
    """One table: rows (scenario, place, band), columns the methods, bins added by ``weighting``."""
    cols = [f"{m} K={k}" for m, k in METHODS]
    out = [f"| {weighting}: scenario, place, band | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    keys = sorted({(r["scenario"], r["place"], tuple(r["band"])) for r in rows}, key=lambda k: (k[0], k[1], k[2][0]))
    for scen, place, band in keys:
        cells = []
        for m, k in METHODS:
            r = next(r for r in rows if (r["scenario"], r["place"], tuple(r["band"]), r["method"], r["csm_frames"],
                                         r["weighting"]) == (scen, place, band, m, k, weighting))
            cells.append(f"{r['found']}/{r['frames']}")
        out.append(f"| {scen} {place}, {band[0] / 1000:g}-{band[1] / 1000:g} kHz | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="indoor")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--figure", type=Path, default=None, help="write the README's picture (PNG) and stop")
    a = ap.parse_args(argv)
    if a.figure:
        figure(a.figure, a.seconds, a.seed)
        return
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for scen in a.scenarios.split(","):
            rows += measure(scen, a.seconds, a.seed, Path(d))
    for weighting in WEIGHTINGS:
        print(markdown(rows, weighting) + "\n")
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
