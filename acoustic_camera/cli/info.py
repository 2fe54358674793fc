"""``acam info FILE``: a readable summary of a session or of an acoustic-image file."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from . import main
from ..errors import AcamError
from .common import human_bytes


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-scan", is_flag=True, help="Skip reading every sample and frame of a session (its check for "
                                                  "damaged chunks and non-finite samples).")
def info(file, no_scan):
    """Print a readable summary of a session file (or of an acoustic file from `acam beamform`,
    or of a calibration file from `acam calibrate`). A session's audio and video are read
    through once and what is wrong with them is said: damaged chunks, non-finite samples."""
    from ..io.acoustic import SCHEMA_NAME as ACOUSTIC
    from ..io.hdf5 import schema_of

    suffix = file.suffix.lower()
    if not file.exists():
        raise AcamError(f"{file}: no such file")
    if suffix == ".json":
        lines = _json_lines(file)
    elif suffix in OTHER:
        lines = OTHER[suffix](file)
    else:
        lines = _acoustic_lines(file) if schema_of(file) == ACOUSTIC else _session_lines(file, not no_scan)
    click.echo("\n".join(lines))


def _scan(s) -> list[str]:
    """Read every sample and frame once: damaged chunks and non-finite samples, said in full."""
    from ..errors import SessionFormatError

    step, damaged = 65536, []
    for a in range(0, s.n_samples, step):
        try:
            s.audio(a, a + step)
        except SessionFormatError:
            damaged.append(f"samples {a}..{min(a + step, s.n_samples) - 1}")
    bad_frames = []
    for k in range(0, s.n_frames, 16):
        try:
            s.frames(k, k + 16)
        except SessionFormatError:
            for j in range(k, min(k + 16, s.n_frames)):
                try:
                    s.frames(j, j + 1)
                except SessionFormatError:
                    bad_frames.append(j)
    lines = []
    if damaged:
        lines.append(f"DAMAGED:     audio unreadable at {', '.join(damaged[:6])}{' ...' if len(damaged) > 6 else ''} "
                     "(commands reading there stop with an error)")
    if bad_frames:
        lines.append(f"DAMAGED:     {len(bad_frames)} video frame(s) unreadable: {bad_frames[:10]}{' ...' if len(bad_frames) > 10 else ''}")
    if s.nonfinite:
        lines.append(f"NON-FINITE:  {s.nonfinite.summary(s.sample_freq)}")
    if not lines:
        lines.append("checked:     every sample finite and readable, every frame readable")
    return lines


def _session_lines(path: Path, scan: bool = True) -> list[str]:
    from ..io.session import open_session

    with open_session(path) as s:
        md = s.metadata
        bad = np.flatnonzero(s.geometry.bad).tolist()
        lines = [
            f"file:        {path} ({human_bytes(path.stat().st_size)})",
            f"schema:      acam-session v{s.schema_version}, written by acam {md.get('software_version', '?')} at {md.get('created_utc', '?')}",
            f"closed:      {'cleanly' if s.closed_cleanly else 'NOT cleanly (writer died; every flushed second is readable)'}; stop reason: {s.stop_reason}",
            f"device:      {md.get('device', '')}",
            f"scenario:    {md.get('scenario', '')}    label: {md.get('label', '')}    subject: {md.get('subject', '')}",
            f"audio:       {s.duration:.3f} s, {s.n_samples} samples x {s.n_channels} channels at {s.sample_freq:g} Hz, float32 "
            f"({human_bytes(s.n_samples * s.n_channels * 4)} raw)",
            f"units:       {md.get('units', 'Pa')}",
            f"array:       {s.geometry.name}, {s.n_channels} mics, {int(s.geometry.good.sum())} good, aperture "
            f"{s.geometry.aperture:.3f} m; bad mics: {bad if bad else 'none'}",
            f"audio gaps:  {len(s.audio_gaps)} ({int(s.audio_gaps[:, 1].sum()) if len(s.audio_gaps) else 0} samples lost)",
            f"video:       {s.n_frames} frames {s.camera.width}x{s.camera.height} at {s.video_fps:g} fps "
            f"(first at sample {int(s.frame_sample_index[0]) if s.n_frames else '-'})",
            f"camera:      fx={s.camera.fx:.1f} fy={s.camera.fy:.1f} cx={s.camera.cx:.1f} cy={s.camera.cy:.1f}, "
            f"at {np.round(s.camera.position, 3).tolist()} m in the array frame",
        ]
        cs = md.get("capture_stats")
        if cs:
            drift = f"{cs['drift_ppm']:+.0f} ppm" if cs.get("drift_ppm") is not None else "n/a"
            lines.append(f"capture:     {cs['blocks']} audio blocks, {cs['overflows']} input overflows, {cs['dropped_blocks']} dropped "
                         f"blocks, {cs['dropped_frames']} dropped video frames, camera clock drift {drift}")
        if len(s.audio_gaps):
            lines.append("gaps at:     " + ", ".join(f"{g0 / s.sample_freq:.3f} s (+{n} samples)" for g0, n in s.audio_gaps[:10])
                         + (" ..." if len(s.audio_gaps) > 10 else ""))
        if s.frames_past_audio:
            lines.append(f"left out:    {s.frames_past_audio} video frame(s) stored after the audio's end (no sound to show)")
        if scan:
            lines += _scan(s)
        t = s.truth
        if t is None:
            lines.append("truth:       none (not a simulated session)")
            return lines
        lines.append(f"truth:       {len(t.labels)} source(s): " + ", ".join(
            f"{lab} (visible {100 * t.visible[:, j].mean():.0f}% / active {100 * t.active[:, j].mean():.0f}% of frames)"
            for j, lab in enumerate(t.labels)))
        if t.window is not None:
            w = t.window
            lines.append(f"truth of:    each frame's analysed window, {w['window_samples']} samples {w['window_alignment']} "
                         f"on its timestamp, {w['window']}; active = direct sound above {w['active_threshold_db']:+g} dB "
                         "re the source's nominal level")
        else:
            lines.append("truth of:    schema v1: activity over [s_k, s_k+1) of the dry signal, not the analysed window")
    return lines


def _acoustic_lines(path: Path) -> list[str]:
    from ..io.acoustic import open_acoustic

    with open_acoustic(path) as a:
        p = a.params
        f = a.frequencies
        shapes = {k: getattr(a, {"energy": "energy_db"}.get(k, k)).shape for k in a.features}
        return [
            f"file:        {path} ({human_bytes(path.stat().st_size)})",
            f"schema:      acam-acoustic v{a.schema_version}, complete",
            f"session:     {a.session_path} (time_data SHA-256 {a.session_sha256[:16]}...)",
            f"frames:      {a.n_frames}, {int(np.sum(a.coverage < 1))} with windows past the recording's ends",
            f"grid:        {a.grid.rows}x{a.grid.cols}, focus "
            f"{'far field' if a.grid.focus_distance is None else f'{a.grid.focus_distance:g} m'}",
            f"bins:        {f.size}, {f[0]:g}-{f[-1]:g} Hz" if f.size else "bins:        none",
            "features:    " + ", ".join(f"{k} {shapes[k]}" for k in a.features),
            f"made with:   " + ", ".join(f"{k}={p[k]}" for k in ("nfft", "window", "steering", "backend", "band_hz", "source")
                                         if k in p),
        ]


def _calibration_lines(path: Path) -> list[str]:
    from ..io.calibration import VERSION, load_calibration

    cal = load_calibration(path)
    lines = [f"file:        {path} ({human_bytes(path.stat().st_size)})",
             f"schema:      acam-calibration v{VERSION}, made {cal.created}, sha256 {cal.sha256[:16]}...",
             "from:        " + (", ".join(s.get("path", "?") + (f" (audio sha256 {s['time_data_sha256'][:12]}...)"
                                                                if s.get("time_data_sha256") else "") for s in cal.sources) or "-")]
    c = cal.camera
    lines.append("camera:      not calibrated" if c is None else
                 f"camera:      {c.width}x{c.height}, fx {c.fx:.2f} fy {c.fy:.2f} cx {c.cx:.2f} cy {c.cy:.2f} px, distortion "
                 f"{np.round(c.distortion, 4).tolist()}; RMS {c.rms_px:.3f} px over {c.views_used} views of a "
                 f"{c.board[0]}x{c.board[1]} board ({len(c.views_rejected)} rejected)")
    y = cal.sync
    lines.append("sync:        not calibrated" if y is None else
                 f"sync:        pictures {1000 * y.av_offset_s:.1f} ms after the sound (+-{1000 * y.uncertainty_s:.1f} ms, "
                 f"{y.events} events at {y.distance_m:g} m)")
    p = cal.pose
    if p is None:
        lines.append("pose:        not calibrated")
    else:
        yaw, pitch, roll = p.yaw_pitch_roll_deg
        x, y, z = 100 * p.position
        lines.append(f"pose:        yaw {yaw:+.2f} pitch {pitch:+.2f} roll {roll:+.2f} deg (+-{p.rotation_sd_deg:.2f}), centre "
                     f"({x:+.1f}, {y:+.1f}, {z:+.1f}) cm "
                     + (f"(+-{100 * p.translation_sd_m:.1f})" if p.translation_estimated else "(kept, not measured)")
                     + f"; RMS {p.rms_deg:.3f} deg over {p.frames_used} frames ({p.frames_rejected} rejected), "
                     f"marker {p.marker_id}")
    mc = cal.microphones
    if mc is None:
        return lines + ["microphones: not calibrated"]
    sel = (mc.freqs >= mc.band[0]) & (mc.freqs <= mc.band[1])
    keep = [m for m in range(mc.gains.shape[0]) if m not in mc.excluded]
    g = mc.gains[keep][:, sel]
    db = 20 * np.log10(np.abs(g))
    lines += [f"microphones: {mc.gains.shape[0]}, gains over {mc.band[0]:g}-{mc.band[1]:g} Hz from a source at "
              f"{np.round(mc.source_position, 3).tolist()} m: {db.min():+.2f} to {db.max():+.2f} dB, phase "
              f"{np.degrees(np.abs(np.angle(g))).max():.1f} deg at most",
              f"faults:      {len(mc.faults)}; excluded: {mc.excluded if mc.excluded else 'none'}"]
    lines += [f"  mic {f.mic:3d}  {f.fault:9s} {'excluded' if f.exclude else 'kept    '}  {f.detail}" for f in mc.faults]
    return lines


# -- the other files acam writes: what they hold, and what is wrong with them -------------------
def _json_lines(path: Path) -> list[str]:
    from ..io.jsonfile import read_json

    doc, _ = read_json(path, "a JSON file written by acam")
    kind = doc.get("acam_schema") if isinstance(doc, dict) else None
    if kind == "acam-calibration":
        return _calibration_lines(path)
    if kind == "acam-split":
        from ..io.dataset import read_split

        sp = read_split(path)
        parts = {p: sum(1 for v in sp.part.values() if v == p) for p in sorted(set(sp.part.values()))}
        return [f"file:        {path} ({human_bytes(path.stat().st_size)})",
                f"schema:      acam-split, seed {sp.seed}, {sp.block_seconds:g}-s blocks",
                "blocks:      " + ", ".join(f"{p} {n}" for p, n in parts.items())]
    keys = ", ".join(list(doc)[:12]) if isinstance(doc, dict) else type(doc).__name__
    return [f"file:        {path} ({human_bytes(path.stat().st_size)})", f"JSON:        {keys}"]


def _wav_lines(path: Path) -> list[str]:
    import warnings

    from scipy.io import wavfile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rate, x = wavfile.read(path, mmap=True)
    except (ValueError, OSError, EOFError) as exc:
        raise AcamError(f"{path}: expected a WAV file, found one that cannot be read ({str(exc)[:80]})") from None
    x = np.asarray(x)
    n = x.shape[0]
    ok = np.isfinite(x).all() if x.dtype.kind == "f" else True
    peak = float(np.abs(x).max()) if n else 0.0
    return [f"file:        {path} ({human_bytes(path.stat().st_size)})",
            f"audio:       {n / rate if rate else 0:.3f} s, {n} samples x {1 if x.ndim == 1 else x.shape[1]} channel(s) at "
            f"{rate} Hz, {x.dtype}; peak {peak:.4g}",
            "checked:     every sample finite" if ok else "NON-FINITE:  the file holds NaN or inf samples"]


def _video_lines(path: Path) -> list[str]:
    import os

    # FFmpeg would print its own complaint about a damaged file beside our one line; OpenCV reads
    # this when it first opens a video, so it is set before (this command's process only)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise AcamError(f"{path}: expected a video OpenCV can read, found one it cannot open (damaged, or cut short)")
        fps, w, h = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        n = 0
        while n < 10**6 and cap.grab():
            n += 1
    finally:
        cap.release()
    declared = f" at {fps:g} fps ({n / fps:.2f} s)" if fps and np.isfinite(fps) and fps > 0 else ""
    return [f"file:        {path} ({human_bytes(path.stat().st_size)})",
            f"video:       {n} frames {w}x{h}{declared}" + ("" if n else "; NO FRAMES: damaged or empty")]


def _picture_lines(path: Path) -> list[str]:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AcamError(f"{path}: expected a picture OpenCV can read, found one it cannot decode (damaged?)")
    return [f"file:        {path} ({human_bytes(path.stat().st_size)})",
            f"picture:     {img.shape[1]}x{img.shape[0]}, {1 if img.ndim == 2 else img.shape[2]} channel(s)"]


def _geometry_lines(path: Path) -> list[str]:
    from ..array.geometry import load_geometry

    g = load_geometry(path)
    return [f"file:        {path} ({human_bytes(path.stat().st_size)})",
            f"array:       {g.name}, {g.n_mics} microphones, aperture {g.aperture:.3f} m"]


def _opaque_lines(path: Path) -> list[str]:
    kind = {".pt": "a PyTorch checkpoint (acam train; read by acam evaluate)",
            ".npz": "numpy arrays (acam features, the models' cache)"}[path.suffix.lower()]
    if path.suffix.lower() == ".npz":
        import zipfile

        try:
            with zipfile.ZipFile(path) as z:
                names = [n.removesuffix(".npy") for n in z.namelist()]
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError) as exc:
            raise AcamError(f"{path}: expected {kind}, found a damaged archive ({exc})") from None
        return [f"file:        {path} ({human_bytes(path.stat().st_size)})",
                f"holds:       {', '.join(names[:12])}" + (f"; DAMAGED member {bad}" if bad else "")]
    return [f"file:        {path} ({human_bytes(path.stat().st_size)}), {kind}"]


OTHER = {".wav": _wav_lines, ".mp4": _video_lines, ".avi": _video_lines, ".mkv": _video_lines, ".mov": _video_lines,
         ".png": _picture_lines, ".jpg": _picture_lines, ".jpeg": _picture_lines, ".bmp": _picture_lines,
         ".xml": _geometry_lines, ".pt": _opaque_lines, ".npz": _opaque_lines}
"""Readers of the other files acam writes, by suffix (sessions and acoustic files are HDF5)."""
