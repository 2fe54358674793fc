"""The live view, measured as a user sees it: ``acam live --simulated`` in real time, its page in
headless Chromium on the same machine, and from the page's own timestamps the pictures shown per
second and the latency from a sound's onset (a click's first sample at microphone 0) to the
picture that shows it; CPU use of acam and of the browser.

    python -m benchmarks.live_view [--seconds 30] [--method kernel] [--band 900:] [--json OUT] [--screenshot PNG]

The README's figures come from this script. Its helpers (the hot spot read off a screenshot's
pixels, click onsets, onset-to-overlay latency) are the live-view tests' own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ALPHA = 0.65  # the overlay's opacity at the top of the range (RenderOptions.alpha)
WINDOW = 1024  # samples in a picture's analysis window (NFFT)


def hot_spot(shot: np.ndarray, frame: np.ndarray, lut: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """(u, v) of the hottest part of the overlay in a screenshot ``shot`` of the page's picture,
    given the video frame under it and the colormap ``lut`` (256 x 3): where the screenshot
    differs from the frame, the colour under the blend is undone and looked up in the colormap;
    the level map, smoothed, peaks at the hot spot."""
    shot, frame = shot.astype(np.float32), frame.astype(np.float32)
    d = shot - frame
    mask = np.abs(d).sum(-1) > 24  # JPEG's own error stays well under this
    est = frame[mask] + d[mask] / alpha  # the colormap's colour where the overlay is opaque
    lut = np.asarray(lut, np.float32)
    dist = ((est[:, None, :] - lut[None]) ** 2).sum(-1)
    level = np.zeros(mask.shape, np.float32)
    level[mask] = np.argmin(dist, axis=1) / 255.0
    level = cv2.GaussianBlur(level, (0, 0), 6)
    v, u = np.unravel_index(int(np.argmax(level)), level.shape)
    return np.array([u, v], float)


def onsets(x: np.ndarray, fs: float = 12000.0, quiet_s: float = 0.2, rel: float = 0.2) -> np.ndarray:
    """First samples of the sounds in ``x`` that start after ``quiet_s`` of (relative) silence."""
    loud = np.flatnonzero(np.abs(x) > rel * np.abs(x).max())
    if loud.size == 0:
        return loud
    keep = np.concatenate([[True], np.diff(loud) > quiet_s * fs])
    return loud[keep]


def onset_latencies(onset_samples, log: list[dict], fs: float = 12000.0):
    """For each onset shown on the page: ms from the onset's arrival to the picture whose window
    holds it appearing, and that picture's peak. Onsets whose picture was skipped are left out."""
    lat, peaks = [], []
    for n0 in onset_samples:
        shown = [e for e in log if e["end_sample"] - WINDOW <= n0 < e["end_sample"]]
        if not shown:
            continue
        e = shown[0]
        arrived = e["end_wall"] - (e["end_sample"] - 1 - n0) / fs * 1000.0
        lat.append(e["shown_wall"] - arrived)
        peaks.append(e["peak"])
    return np.array(lat), peaks


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                text = (p / "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            stats[int(p.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, grew = {pid}, True
    while grew:
        grew = False
        for q, (parent, _) in stats.items():
            if parent in tree and q not in tree:
                tree.add(q)
                grew = True
    return sum(stats[q][1] for q in tree if q in stats)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def start_live(*args) -> tuple[subprocess.Popen, str]:
    """``acam live --port 0 --quiet ARGS`` in a subprocess, and its page's URL once it serves."""
    proc = subprocess.Popen([sys.executable, "-m", "acoustic_camera", "live", "--port", "0", "--quiet", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"(http://\S+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"acam live did not serve: {line}{proc.stderr.read()}")
    return proc, m.group(1)


def simulated_args(sources: str, seconds: float, band: str, record, seed: int = 1, scenario: str = "anechoic",
                   noise: bool = False) -> list:
    """``acam live --simulated`` arguments: simulated all first (the view alone competes for the CPU)."""
    return ["--simulated", "--sources", sources, "--scenario", scenario, *([] if noise else ["--no-noise"]),
            "--seed", seed, "--duration", seconds, "--preroll", "inf", "--band", band, "--record", record]


CLICKS = "clicks:static@0.4,0,2.5"  # sharp onsets at random phases against the frame clock


def measure(seconds: float = 30.0, method: str = "kernel", band: str = "900:", extra=(),
            screenshot: Path | None = None, sources: str = CLICKS, scenario: str = "anechoic", noise: bool = False) -> dict:
    """Run ``acam live --simulated`` for ``seconds`` with a page in headless Chromium; the
    latency is measured on the clicks' onsets (anechoic, without noise, as by default)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from acoustic_camera import open_session
    from benchmarks.browser import Chromium

    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "live.h5"
        proc, url = start_live(*simulated_args(sources, seconds, band, rec, scenario=scenario, noise=noise),
                               "--method", method, *extra)
        with Chromium(url) as b:
            b.wait_for("acam.log.length > 3", 60)
            c0, t0 = _cpu_seconds(b.proc.pid), time.monotonic()
            n0 = b.eval("acam.log.length")
            if screenshot is not None:
                time.sleep(min(5.0, seconds / 3))
                cv2.imwrite(str(screenshot), b.screenshot((0, 0, 920, 490))[:, :, ::-1])
            b.wait_for("!acam.connected", seconds + 60, poll=0.5)
            browser_cpu = (_cpu_seconds(b.proc.pid) - c0) / (time.monotonic() - t0)
            log = b.eval("acam.log")
        out, err = proc.communicate(timeout=120)
        if proc.returncode:
            raise RuntimeError(err)
        with open_session(rec) as s:
            mic0 = s.audio(channel=0)
            truth = s.truth.pixel[0, 0]
            fs = s.sample_freq
    shown = log[n0:]
    span = (shown[-1]["shown_wall"] - shown[0]["shown_wall"]) / 1000.0
    lat, peaks = onset_latencies(onsets(mic0, fs), log, fs) if sources == CLICKS and not noise else (np.zeros(0), [])
    window_to_shown = np.array([e["shown_wall"] - e["end_wall"] for e in shown])
    made_to_shown = np.array([e["shown_wall"] - e["made_wall"] for e in shown])
    acam_line = out.strip().splitlines()[-1]
    acam_cpu = float(re.search(r"CPU ([0-9.]+) cores", acam_line).group(1))
    return {
        "cpu": cpu_name(), "cores": os.cpu_count(), "seconds": seconds, "method": method, "band": band,
        "grid": "36x48", "bins": 512,
        "page_fps": (len(shown) - 1) / span, "pictures_made": int(re.search(r"acam live: (\d+) pictures", acam_line).group(1)),
        "pictures_shown": len(log),
        "sources": sources, "scenario": scenario, "noise": noise,
        "onsets_shown": int(lat.size),
        "onset_to_overlay_ms": {"median": float(np.median(lat)), "p95": float(np.percentile(lat, 95)),
                                "max": float(lat.max())} if lat.size else None,
        "onsets_at_source": float(np.mean([np.hypot(*(np.array(p) - truth)) < 20 for p in peaks])) if peaks else None,
        "window_end_to_shown_ms_median": float(np.median(window_to_shown)),
        "made_to_shown_ms_median": float(np.median(made_to_shown)),
        "acam_cpu_cores": acam_cpu, "browser_cpu_cores": browser_cpu, "acam_summary": acam_line,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--method", default="kernel")
    ap.add_argument("--band", default="900:")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--screenshot", type=Path, default=None, help="a PNG of the page, a few seconds in")
    ap.add_argument("--sources", default=CLICKS, help="simulated sources (latency: only with the default clicks)")
    ap.add_argument("--scenario", default="anechoic")
    ap.add_argument("--noise", action="store_true", help="with background and sensor noise")
    a = ap.parse_args(argv)
    r = measure(a.seconds, a.method, a.band, screenshot=a.screenshot, sources=a.sources, scenario=a.scenario, noise=a.noise)
    print(json.dumps(r, indent=2))
    if a.json:
        a.json.write_text(json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    main()
