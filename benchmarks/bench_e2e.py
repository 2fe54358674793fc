"""End to end: capture writing throughput and `acam beamform` on a whole session, with file I/O.

    python -m benchmarks.bench_e2e [--seconds 60] [--quick]

- Writer: a session of 128 channels at 12 kHz (float32) plus 640x480 video at 12 fps (a drawn
  scene, so gzip sees realistic pictures) written through SessionWriter (SWMR, flush every
  second); MB/s of incoming data against the DualCam's rate (6.1 MB/s audio + 11.1 MB/s raw video).
- Beamform: `beamform_session` over that session (MFCC + energy written, the default), real-time
  factor and volumes/s including reading, hashing and writing, against the kernel's own
  throughput (the Beamformer on as many frames, in batches of 24 already in memory), the two
  alternated ``repeats`` times, best of each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.measure import best_seconds

RESULTS = Path(__file__).parent / "results"
DUALCAM_AUDIO_MBS = 128 * 12000 * 4 / 1e6
DUALCAM_VIDEO_MBS = 640 * 480 * 3 * 12 / 1e6


def write_session(path, seconds, rng):
    from acoustic_camera import Camera, SessionWriter, preset
    from acoustic_camera.sim.scene_video import SourceSprite, draw_frame, make_background

    bg = make_background("indoor", 640, 480, rng)
    frames = np.stack([draw_frame(bg, [SourceSprite("speech", (200 + 10 * k, 240), 3.0, True)], k) for k in range(12)])
    audio = (rng.standard_normal((12000, 128)) * 0.01).astype(np.float32)
    t = time.perf_counter()
    with SessionWriter(path, sample_freq=12000, geometry=preset("dualcam128"), camera=Camera(), video_fps=12,
                       overwrite=True) as w:
        for s in range(seconds):
            w.write_audio(audio)
            w.write_frames(frames, s * 12000 + np.arange(12) * 1000)
    dt = time.perf_counter() - t
    incoming = seconds * (DUALCAM_AUDIO_MBS + DUALCAM_VIDEO_MBS)
    return {"seconds_of_data": seconds, "wall_s": dt, "incoming_MB_per_s": incoming / dt,
            "dualcam_MB_per_s": DUALCAM_AUDIO_MBS + DUALCAM_VIDEO_MBS,
            "x_dualcam_rate": (incoming / dt) / (DUALCAM_AUDIO_MBS + DUALCAM_VIDEO_MBS),
            "file_MB": Path(path).stat().st_size / 1e6}


def run(seconds=60, quick=False, repeats=2):
    from acoustic_camera import Camera, preset
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.beamform.pipeline import beamform_session

    rng = np.random.default_rng(0)
    seconds = 4 if quick else seconds
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.h5"
        writer = write_session(p, seconds, rng)
        bf = Beamformer(preset("dualcam128"), Camera(), 12000.0, backend="numba")
        frames = int(seconds * 12)
        # the kernel alone on as many frames, in the same batches, already in memory: the same
        # length of run as the pipeline's, alternated with it so both see the same machine
        x = rng.standard_normal((24, 1024, 128)).astype(np.float32)

        def kernel_only():
            for _ in range(0, frames, 24):
                bf(x)

        beamform_session(p, Path(d) / "warm.h5", backend="numba")  # warm-up: page cache
        dt_k, dt = float("inf"), float("inf")
        for _ in range(repeats):
            dt_k = min(dt_k, best_seconds(kernel_only, 1, warmup=0))
            dt = min(dt, best_seconds(lambda: beamform_session(p, Path(d) / "out.h5", backend="numba", overwrite=True),
                                      1, warmup=0))
        kernel_vps = frames / dt_k
    bf = {"seconds_of_video": seconds, "frames": frames, "wall_s": dt, "volumes_per_s": frames / dt,
          "realtime_factor": seconds / dt, "features": "mfcc,energy", "kernel_volumes_per_s": kernel_vps,
          "ratio_to_kernel": frames / dt / kernel_vps}
    return {"writer": writer, "beamform": bf}


def markdown(res) -> str:
    w, b = res["writer"], res["beamform"]
    return "\n".join([
        "| end to end | figure |",
        "|---|---|",
        f"| session writer ({w['seconds_of_data']} s, 128 ch + 640x480 video) | {w['incoming_MB_per_s']:.0f} MB/s = "
        f"{w['x_dualcam_rate']:.1f}x the DualCam data rate ({w['dualcam_MB_per_s']:.1f} MB/s); file {w['file_MB']:.0f} MB |",
        f"| `acam beamform` ({b['seconds_of_video']} s, {b['frames']} frames, MFCC + energy, numba) | "
        f"{b['wall_s']:.1f} s: {b['volumes_per_s']:.1f} volumes/s, {b['realtime_factor']:.1f}x real time, "
        f"{b['ratio_to_kernel']:.2f} of the kernel's own {b['kernel_volumes_per_s']:.1f} volumes/s |",
    ])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.seconds, args.quick)
    print(markdown(res))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("e2e_quick.json" if args.quick else "e2e.json")).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
