"""Damaged, hand-edited and hostile files, made from one small valid session and its acoustic
file: truncations at many offsets, byte flips in metadata and in data, wrong types, values that
are absurd or non-finite, external storage and links, huge declared lengths.

Each maker writes one file and returns nothing; :func:`make_corpus` returns ``{name: path}``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np


def make_base(d: Path) -> tuple[Path, Path]:
    """A 1-s simulated session of the 16-mic UMA-16 (12 frames) and its acoustic file."""
    from acoustic_camera import preset
    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    s = d / "base.h5"
    simulate_to_file(SimConfig(duration=1.0, seed=5, geometry=preset("uma16"),
                               sources=(SourceSpec("whistling", "static", (0.3, -0.1, 2.0)),)), s)
    beamform_session(s, features=("mfcc", "energy"), backend="numpy", grid=(9, 12))
    return s, d / "base.acoustic.h5"


def _edit(src: Path, dst: Path, fn) -> None:
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        fn(f)


def _replace(name: str, data):
    def fn(f):
        attrs = dict(f[name].attrs)
        del f[name]
        f[name] = data
        for k, v in attrs.items():
            f[name].attrs[k] = v
    return fn


def _set_attr(obj: str, key: str, value):
    def fn(f):
        f[obj].attrs[key] = value
    return fn


def _set_data(name: str, sel, value):
    def fn(f):
        f[name][sel] = value
    return fn


def _external_storage(target: str):
    def fn(f):
        n_ch = f["time_data"].shape[1]
        rate = f["time_data"].attrs["sample_freq"]
        del f["time_data"]
        ds = f.create_dataset("time_data", shape=(64, n_ch), dtype="float32", external=[(target, 0, h5py.h5f.UNLIMITED)])
        ds.attrs["sample_freq"] = rate
    return fn


def _external_link(target: str):
    def fn(f):
        del f["array/positions"]
        f["array/positions"] = h5py.ExternalLink(target, "/array/positions")
    return fn


def _virtual(src: Path):
    def fn(f):
        shape = f["time_data"].shape
        rate = f["time_data"].attrs["sample_freq"]
        layout = h5py.VirtualLayout(shape=shape, dtype="float32")
        layout[:] = h5py.VirtualSource(str(src), "time_data", shape=shape)
        del f["time_data"]
        f.create_virtual_dataset("time_data", layout)
        f["time_data"].attrs["sample_freq"] = rate
    return fn


def _huge_length(f):
    f["time_data"].resize(10**10, axis=0)


def _deep_json(f):
    f.attrs["extra_json"] = "[" * 100000 + "]" * 100000


def _zero_samples(f):
    f["time_data"].resize(0, axis=0)


def _one_point(f):
    f["array/positions"][...] = 0.0


def session_edits(base: Path, other: Path) -> dict:
    """name -> edit of a copy of the session (``other``: a second file an edit may point at)."""
    n = 12000
    return {
        "rate-inf": _set_attr("time_data", "sample_freq", np.inf),
        "rate-1e15": _set_attr("time_data", "sample_freq", 1e15),
        "rate-nan": _set_attr("time_data", "sample_freq", np.nan),
        "rate-string": _set_attr("time_data", "sample_freq", "twelve thousand"),
        "rate-array": _set_attr("time_data", "sample_freq", np.array([12000.0, 1.0])),
        "fps-string": _set_attr("/", "video_fps", "12"),
        "fps-1e9": _set_attr("/", "video_fps", 1e9),
        "version-digits": _set_attr("/", "acam_schema_version", "9" * 5000),
        "version-float": _set_attr("/", "acam_schema_version", 1.5),
        "extra-deep": _deep_json,
        "extra-list": _set_attr("/", "extra_json", "[1, 2]"),
        "stats-bad": _set_attr("/", "capture_stats_json", "{not json"),
        "audio-string": _replace("time_data", np.array([b"abc"] * 10)),
        "audio-int": _replace("time_data", np.zeros((100, 16), np.int16)),
        "positions-string": _replace("array/positions", np.array([[b"a", b"b", b"c"]] * 16)),
        "positions-nan": _set_data("array/positions", (0, 0), np.nan),
        "positions-one-point": _one_point,
        "positions-far": _set_data("array/positions", (0, 2), 1e9),
        "bad-float": _replace("array/bad", np.full(16, 0.5)),
        "names-short": _replace("array/names", np.array([b"m"] * 3)),
        "camera-nan": _set_attr("camera", "fx", np.nan),
        "camera-zero": _set_attr("camera", "fy", 0.0),
        "camera-string": _set_attr("camera", "cx", "middle"),
        "camera-huge": _set_attr("camera", "width", 10**9),
        "sample-index-outside": _set_data("video/sample_index", -1, 10**12),
        "sample-index-all-outside": lambda f: f["video/sample_index"].__setitem__(slice(None), 10**9 + np.arange(12)),
        "sample-index-negative": _set_data("video/sample_index", 0, -10**9),
        "sample-index-float": _replace("video/sample_index", np.linspace(0, 1, 12)),
        "sample-index-reversed": lambda f: f["video/sample_index"].__setitem__(slice(None), f["video/sample_index"][()][::-1]),
        "gaps-negative": lambda f: (f["audio_gaps"].resize(1, axis=0), f["audio_gaps"].__setitem__(0, [-5, 10])),
        "nan-100": _set_data("time_data", (slice(2000, 2100), 3), np.nan),
        "inf-100": _set_data("time_data", (slice(2000, 2100), 5), np.inf),
        "nan-all-mic": _set_data("time_data", (slice(None), 7), np.nan),
        "nan-everything": _set_data("time_data", slice(None), np.nan),
        "huge-values": _set_data("time_data", (slice(0, 100), 2), 3e38),
        "huge-length": _huge_length,
        "zero-samples": _zero_samples,
        "external-storage": _external_storage("/etc/passwd"),
        "external-link": _external_link(str(other)),
        "virtual": _virtual(other),
        "truth-pixel-nan": _set_data("truth/pixel", (slice(None), 0), np.nan),
        "truth-string": _replace("truth/visible", np.array([[b"yes"]] * 12)),
        "frames-short": _replace("video/frames", np.zeros((12, 10, 10, 3), np.uint8)),
        "no-camera": lambda f: f.__delitem__("camera"),
        "schema-acoustic": _set_attr("/", "acam_schema", "acam-acoustic"),
        "closed-dirty": _set_attr("/", "closed_cleanly", 0),
        "audio-group": lambda f: (f.__delitem__("time_data"), f.create_group("time_data")),
    }


def acoustic_edits() -> dict:
    return {
        "ac-energy-nan": _set_data("energy_db", (0, 0, 0), np.nan),
        "ac-mfcc-inf": _set_data("mfcc", (1, 2, 3, 4), np.inf),
        "ac-freqs-empty": _replace("frequencies", np.zeros(0)),
        "ac-freqs-nan": _set_data("frequencies", 3, np.nan),
        "ac-band-reversed": lambda f: f.attrs.__setitem__("params_json", f.attrs["params_json"].replace(
            '"band_hz": [900.0, null]', '"band_hz": [5000.0, 100.0]')),
        "ac-params-deep": _set_attr("/", "params_json", "[" * 100000 + "]" * 100000),
        "ac-params-nan": lambda f: f.attrs.__setitem__("params_json", f.attrs["params_json"].replace(
            '"focus_distance": 3.0', '"focus_distance": NaN')),
        "ac-coverage-nan": _set_data("coverage", 0, np.nan),
        "ac-grid-nan": _set_data("grid/directions", (0, 0, 0), np.nan),
        "ac-incomplete": _set_attr("/", "complete", 0),
        "ac-frames-string": _replace("frame_sample_index", np.array([b"x"] * 12)),
        "ac-energy-string": _replace("energy_db", np.array([b"x"] * 12)),
    }


_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from acoustic_camera import preset
from acoustic_camera.array.camera import Camera
from acoustic_camera.io.session import SessionWriter
w = SessionWriter(sys.argv[1], sample_freq=12000, geometry=preset("uma16"), camera=Camera(width=64, height=48, fx=55.0,
                  fy=55.0, cx=31.5, cy=23.5), video_fps=12)
rng = np.random.default_rng(0)
for k in range(24):
    w.write_audio(rng.standard_normal((1000, 16)).astype(np.float32))
    w.write_frames(np.zeros((48, 64, 3), np.uint8), [k * 1000])
w.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_capture(d: Path) -> Path:
    """A session whose writer was killed (SIGKILL) after 2 s: HDF5's consistency flags still set,
    so readers must open it through SWMR."""
    import subprocess
    import sys

    p = d / "killed.h5"
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(p)], check=False, timeout=120)
    return p


def truncations(src: Path, d: Path, prefix: str) -> dict:
    size = src.stat().st_size
    offsets = sorted({0, 1, 8, 100, 512, 1024, 2048, 4096, 8192, 32768, size // 4, size // 2, 3 * size // 4,
                      size - 4096, size - 100, size - 1})
    out = {}
    for off in offsets:
        p = d / f"{prefix}-cut{off}.h5"
        with open(src, "rb") as f, open(p, "wb") as g:
            g.write(f.read(off))
        out[p.stem] = p
    return out


def flips(src: Path, d: Path, prefix: str, n_meta: int, n_data: int, seed: int = 0) -> dict:
    """Copies with 8 bytes flipped: ``n_meta`` in the first 8 KB (superblock, root object
    header, the metadata acam's writers put first), ``n_data`` anywhere."""
    rng = np.random.default_rng(seed)
    data = np.fromfile(src, np.uint8)
    out = {}
    for kind, n, hi in (("meta", n_meta, min(8192, data.size)), ("data", n_data, data.size)):
        for j in range(n):
            x = data.copy()
            at = rng.integers(0, hi - 8)
            x[at:at + 8] ^= rng.integers(1, 256, 8, dtype=np.uint8)
            p = d / f"{prefix}-flip-{kind}{j}.h5"
            x.tofile(p)
            out[p.stem] = p
    return out


def make_corpus(d: Path, base: Path, acoustic: Path, n_meta: int = 24, n_data: int = 8) -> dict:
    """{name: (session path, acoustic path or None)} of the damaged files (the session's
    acoustic file beside it where the case is about the acoustic file)."""
    d.mkdir(parents=True, exist_ok=True)
    other = d / "other.h5"
    shutil.copyfile(base, other)
    cases = {}
    for name, fn in session_edits(base, other).items():
        p = d / f"{name}.h5"
        try:
            _edit(base, p, fn)
        except Exception as exc:  # an edit h5py refuses is not a case
            raise RuntimeError(f"corpus edit {name}: {exc}") from exc
        cases[name] = (p, None)
    for name, fn in acoustic_edits().items():
        sd = d / name
        sd.mkdir(exist_ok=True)
        s = sd / "s.h5"
        shutil.copyfile(base, s)
        _edit(acoustic, sd / "s.acoustic.h5", fn)
        cases[name] = (s, sd / "s.acoustic.h5")
    for name, p in {**truncations(base, d, "session"), **flips(base, d, "session", n_meta, n_data)}.items():
        cases[name] = (p, None)
    killed = killed_capture(d)
    cases["killed"] = (killed, None)
    for name, p in {**truncations(killed, d, "killed"), **flips(killed, d, "killed", n_meta, n_data // 2, 2)}.items():
        cases[name] = (p, None)
    for name, p in {**truncations(acoustic, d, "acoustic"), **flips(acoustic, d, "acoustic", n_meta // 2, n_data // 2, 1)}.items():
        sd = d / name
        sd.mkdir(exist_ok=True)
        shutil.copyfile(base, sd / "s.h5")
        shutil.move(p, sd / "s.acoustic.h5")
        cases[name] = (sd / "s.h5", sd / "s.acoustic.h5")
    return cases
