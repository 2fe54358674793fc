"""Acoustic images over the video: overlay frames, PNGs and MP4 files.

Each frame's band energy (dB) is upsampled smoothly (bicubic, cell centres on the acoustic
grid's pixel-block centres) to the video resolution, mapped through a perceptual colormap
(inferno) over a dynamic range below the frame's (or the session's) maximum, blended over the
picture with transparency fading in from the floor, and labelled with a colour bar giving the
dB scale and the band. MP4s are H.264 (yuv420p) through imageio-ffmpeg's bundled ffmpeg, which
browsers and common players play; OpenCV's MPEG-4 Part 2 writer is the fallback.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from ..beamform.features import band_energy_db, power_db
from ..beamform.methods import KERNEL_METHOD
from ..constants import ENERGY_BAND
from ..errors import DISK_ERRNOS, AcamError, DiskError
from ..framing import frame_windows
from ..io.acoustic import acoustic_path_for, open_acoustic
from ..io.atomic import atomic_output, check_output
from ..io.session import Session, open_session

COLORMAP = cv2.COLORMAP_INFERNO


@dataclass(frozen=True)
class RenderOptions:
    """How overlays look. ``reference``: 'frame' (each frame's maximum) or 'session' (the
    session's maximum) is the top of the dB scale; ``dynamic_range_db`` below it is the floor."""

    dynamic_range_db: float = 12.0
    reference: str = "frame"
    alpha: float = 0.65
    band: tuple = ENERGY_BAND
    side_by_side: bool = False
    truth: bool = False
    colorbar: bool = True


def _band_label(band) -> str:
    lo, hi = band
    return f"{lo:g}-{hi:g} Hz" if hi else f">= {lo:g} Hz"


def stored_method(a) -> dict:
    """The method an acoustic file's maps were made by (files from before --method: the kernel's)."""
    return a.params.get("method", KERNEL_METHOD)


def _method_label(m: dict) -> str:
    return "delay-and-sum per frame" if m == KERNEL_METHOD else f"{m['method']} on {m['csm_frames']}-frame CSMs"


class EnergySource:
    """Per-frame band-energy maps (rows, cols) in dB for a session: from an acoustic file's
    ``/energy_db`` (band and method as stored) or ``/volumes`` (any band), or beamformed on the
    fly (by the kernel, or by ``method``, a :class:`~acoustic_camera.beamform.methods.MethodSpec`)."""

    def __init__(self, session: Session, acoustic: str | Path | None, band, backend: str = "auto", batch: int = 24,
                 method=None):
        self.session, self.band, self.backend, self.batch = session, tuple(band), backend, batch
        self.method = method
        wanted = vars(method) if method is not None else KERNEL_METHOD
        self._a = None
        if acoustic is not None:
            self._a = a = open_acoustic(acoustic, session)
            if a.volumes is not None and method is None:
                self.mode = "volumes"
            elif a.energy_db is not None and a.band == self.band and stored_method(a) == wanted:
                self.mode = "energy"
            else:
                a.close()
                found = (f"energy for {_band_label(a.band)} by {_method_label(stored_method(a))}"
                         if a.energy_db is not None else "no energy maps")
                raise AcamError(f"{a.path}: /energy_db: expected maps for the band {_band_label(self.band)} by "
                                f"{_method_label(wanted)}{' (or full volumes)' if method is None else ''}; found {found} "
                                "(re-run `acam beamform` with the band and method wanted, or ask for what it holds)")
            self.grid_shape = (a.grid.rows, a.grid.cols)
            self.freqs = a.frequencies
        else:
            from ..beamform.beamformer import Beamformer

            self.mode = "beamform" if method is None else method.method
            self._bf = Beamformer(session.geometry, session.camera, session.sample_freq, backend=backend)
            self.grid_shape = self._bf.grid.shape
            self.freqs = self._bf.freqs

    def frames(self, indices=None) -> Iterator[tuple[int, np.ndarray]]:
        s = self.session
        idx = np.arange(s.n_frames) if indices is None else np.asarray(indices)
        if self.method is not None and self._a is None:
            from ..beamform.methods import iter_band_maps

            for cs, maps in iter_band_maps(s.audio, s.frame_sample_index, s.n_samples, s.n_channels, self._bf,
                                           self.method, self.band, centres=idx, batch=self.batch):
                for k, m in zip(cs, power_db(maps)):
                    yield int(k), m
            return
        for b0 in range(0, len(idx), self.batch):
            ks = idx[b0:b0 + self.batch]
            if self.mode == "energy":
                e = self._a.energy_db[ks[0]:ks[-1] + 1][ks - ks[0]]
            elif self.mode == "volumes":
                e = band_energy_db(self._a.volumes[ks[0]:ks[-1] + 1][ks - ks[0]].astype(np.float32), self.freqs, self.band)
            else:
                from ..beamform.spectra import gather_frames

                starts, _ = frame_windows(s.frame_sample_index[ks], self._bf.nfft, s.n_samples)
                vol = self._bf(gather_frames(s.audio, starts, self._bf.nfft, s.n_samples, s.n_channels))
                e = band_energy_db(vol, self.freqs, self.band)
            for k, m in zip(ks, e):
                yield int(k), m

    def close(self):
        if self._a is not None:
            self._a.close()


def colorize(energy_db: np.ndarray, size: tuple[int, int], top: float, opts: RenderOptions) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) dB -> (H, W, 3) RGB colours and (H, W) opacity in [0, alpha]."""
    w, h = size
    up = cv2.resize(energy_db.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    floor = top - opts.dynamic_range_db
    level = np.clip((up - floor) / opts.dynamic_range_db, 0.0, 1.0)
    rgb = cv2.applyColorMap((level * 255).astype(np.uint8), COLORMAP)[:, :, ::-1]
    # transparent below the floor, fading in over the lowest quarter of the range
    alpha = opts.alpha * np.clip(level * 4.0, 0.0, 1.0)
    return rgb, alpha


SILENCE_DB = -250.0
"""A map whose top is below this (dB re 1 Pa^2) holds no sound: power_db floors silence at -300."""


def is_drawable(energy_db: np.ndarray, top: float) -> bool:
    """A map worth drawing over the picture: finite, with some sound and some contrast (a flat
    map would paint the whole picture in the top colour, as if everything were the source)."""
    e = np.asarray(energy_db)
    return bool(np.isfinite(top) and top > SILENCE_DB and np.isfinite(e).all() and float(e.max() - e.min()) > 1e-3)


def _colorbar(img: np.ndarray, top: float, opts: RenderOptions) -> None:
    h, w = img.shape[:2]
    bh, bw = int(h * 0.45), max(10, w // 50)
    x0, y0 = w - bw - 58, (h - bh) // 2
    if x0 < 45 or bh < 20:  # a picture too small to carry a labelled bar (a thermal or a test camera)
        return
    ramp = np.linspace(1, 0, bh)[:, None].repeat(bw, 1)
    bar = cv2.applyColorMap((ramp * 255).astype(np.uint8), COLORMAP)[:, :, ::-1]
    img[y0:y0 + bh, x0:x0 + bw] = bar
    cv2.rectangle(img, (x0 - 1, y0 - 1), (x0 + bw, y0 + bh), (255, 255, 255), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for frac, val in ((0.0, top), (0.5, top - opts.dynamic_range_db / 2), (1.0, top - opts.dynamic_range_db)):
        y = int(y0 + frac * bh)
        cv2.putText(img, f"{val:.0f} dB", (x0 + bw + 4, y + 4), font, 0.38, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, f"{val:.0f} dB", (x0 + bw + 4, y + 4), font, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    label = _band_label(opts.band)
    cv2.putText(img, label, (x0 - 40, y0 - 8), font, 0.38, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, label, (x0 - 40, y0 - 8), font, 0.38, (255, 255, 255), 1, cv2.LINE_AA)


def overlay_frame(frame: np.ndarray, energy_db: np.ndarray, top: float, opts: RenderOptions,
                  truth_pixels: np.ndarray | None = None) -> np.ndarray:
    """One picture: RGB frame (H, W, 3) with the energy map blended over it (and, with
    ``side_by_side``, the video, the acoustic image and the overlay next to each other)."""
    h, w = frame.shape[:2]
    rgb, alpha = colorize(energy_db, (w, h), top, opts)
    flat = not is_drawable(energy_db, top)
    if flat:  # silence, or a map without contrast: nothing to show, and the picture says so
        alpha = np.zeros_like(alpha)
    a = alpha.astype(np.float32)
    # OpenCV's per-pixel blend: a fifth of numpy's time on a 640 x 480 frame (the live view's budget)
    out = cv2.blendLinear(np.ascontiguousarray(frame, dtype=np.uint8), rgb, 1.0 - a, a)
    if truth_pixels is not None:
        for u, v in np.asarray(truth_pixels).reshape(-1, 2):
            if np.isfinite(u) and np.isfinite(v):
                cv2.drawMarker(out, (int(round(u)), int(round(v))), (0, 255, 0), cv2.MARKER_TILTED_CROSS, 18, 2, cv2.LINE_AA)
    if opts.colorbar:
        _colorbar(out, top, opts)
    if flat:
        text = "no signal (silent or flat map)"
        for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
            cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, thick, cv2.LINE_AA)
    if opts.side_by_side:
        out = np.concatenate([frame, rgb, out], axis=1)
    return np.ascontiguousarray(out)


class _Mp4Writer:
    """H.264 (yuv420p, CRF 15) through imageio-ffmpeg's ffmpeg, its messages kept and its exit
    status checked: a full disk, or any other failure of ffmpeg, is one error naming the video
    (``name``: the final file), never a broken MP4 that looks finished. OpenCV's MPEG-4 Part 2
    writer is the fallback where imageio-ffmpeg is missing. :meth:`close` finishes the file (and
    raises what went wrong); :meth:`abort` stops ffmpeg, the file left unfinished."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, name=None):
        self.path, self.name = Path(path), Path(name or path)
        self._proc = self._cv = None
        try:
            import imageio_ffmpeg

            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            exe = None
        if exe is None:
            self._cv = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            if not self._cv.isOpened():
                raise AcamError(f"{self.name}: OpenCV cannot write MP4 here (install imageio-ffmpeg)")
            return
        w, h = size
        cmd = [exe, "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{w}x{h}", "-pix_fmt", "rgb24",
               "-r", str(Fraction(fps).limit_denominator()), "-i", "-", "-an",
               "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", "15"]
        if w % 2 or h % 2:  # yuv420p needs even sides
            cmd += ["-vf", f"scale={w + w % 2}:{h + h % 2}"]
        cmd += ["-v", "error", str(self.path)]
        self._log = tempfile.TemporaryFile()
        # a session of its own: Ctrl-C stops the render, which then stops ffmpeg (abort)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
                                      start_new_session=True)

    def write(self, rgb: np.ndarray) -> None:
        if self._proc is None:
            self._cv.write(np.ascontiguousarray(rgb[:, :, ::-1]))
            return
        try:
            self._proc.stdin.write(np.ascontiguousarray(rgb, dtype=np.uint8).data)
        except OSError:  # ffmpeg is gone (a broken pipe): its exit status and messages say why
            self._finish()
            rc = self._proc.returncode
            raise AcamError(f"{self.name}: ffmpeg stopped taking frames (exit status {rc})") from None

    def close(self) -> None:
        if self._proc is None:
            self._cv.release()
            if not self.path.exists() or self.path.stat().st_size == 0:
                raise AcamError(f"{self.name}: OpenCV wrote no video (is the disk full?)")
            return
        self._finish()

    def _finish(self) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        rc = self._proc.wait()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.close()
        for code, what in DISK_ERRNOS.items():
            if os.strerror(code) in text:
                raise DiskError(self.name, OSError(code, what))
        if rc != 0:
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            last = " ".join(lines[-1].split())[:200] if lines else ""
            raise AcamError(f"{self.name}: ffmpeg could not write the video (exit status {rc})"
                            + (f": {last}" if last else ""))

    def abort(self) -> None:
        if self._proc is None:
            self._cv.release()
            return
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        self._proc.wait()
        self._log.close()


def picture_suffix(path) -> str:
    """The extension of a picture to write (.png, .jpg, ... : OpenCV picks the format by it),
    or a one-line error naming it."""
    suffix = Path(path).suffix.lower()
    if not suffix or not cv2.haveImageWriter("picture" + suffix):
        found = f"'{Path(path).suffix}'" if suffix else "no extension"
        raise AcamError(f"{path}: expected a picture file name ending in .png or .jpg (the extension picks the "
                        f"format), found {found}")
    return suffix


def write_png(path, rgb: np.ndarray, overwrite: bool = False) -> None:
    """An RGB picture as PNG (or any format OpenCV infers from the suffix), atomically: encoded
    in memory and written by Python, so that a full disk is reported as what it is."""
    suffix = picture_suffix(path)
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise AcamError(f"{path}: OpenCV could not encode the picture as {suffix}")
    with atomic_output(path, overwrite=overwrite) as tmp:
        try:
            with open(tmp, "wb") as fh:
                fh.write(buf.data)
        except OSError as exc:
            raise DiskError(path, exc) from None


def _holds(path: Path, band, method) -> bool:
    """Whether an acoustic file found beside the session holds the maps of ``method`` for
    ``band`` (when not, they are computed: an acoustic file of the kernel's is no error then)."""
    try:
        with open_acoustic(path) as a:
            return a.energy_db is not None and a.band == tuple(band) and stored_method(a) == vars(method)
    except AcamError:
        return False


def _session_top(src: EnergySource) -> float:
    return max(float(np.max(e)) for _, e in src.frames())


def render(session_path, *, out: str | Path | None = None, png: str | Path | None = None, frame: int | None = None,
           acoustic: str | Path | None = None, opts: RenderOptions = RenderOptions(), backend: str = "auto",
           overwrite: bool = False, progress: Callable[[int, int], None] | None = None, method=None) -> dict:
    """Render an overlay MP4 (``out``) of every frame and/or one frame as a PNG (``png`` with
    ``frame``). ``acoustic``: an ``acam beamform`` output (default: SESSION.acoustic.h5 if it
    exists and holds what is asked, else the energy is beamformed on the fly); ``method``: a
    :class:`~acoustic_camera.beamform.methods.MethodSpec` for the maps (default: the kernel's)."""
    if opts.reference not in ("frame", "session"):
        raise AcamError(f"reference must be 'frame' or 'session', got {opts.reference!r}")
    if opts.dynamic_range_db <= 0:
        raise AcamError(f"dynamic range must be positive dB, got {opts.dynamic_range_db}")
    if out is None and png is None:
        raise AcamError("nothing to render: give --out FILE.mp4 and/or --png FILE.png")
    session_path = Path(session_path)
    for p in (out, png):
        if p is not None:
            check_output(p, overwrite, inputs=(session_path, acoustic))
    if png is not None:
        picture_suffix(png)
    if acoustic is None:
        default = acoustic_path_for(session_path)
        acoustic = default if default.exists() and (method is None or _holds(default, opts.band, method)) else None
    result = {}
    with open_session(session_path) as s:
        s.require_audio("render")
        if opts.truth and s.truth is None:
            raise AcamError(f"{session_path}: --truth needs a simulated session with /truth")
        src = EnergySource(s, acoustic, opts.band, backend, method=method)
        try:
            top_session = _session_top(src) if opts.reference == "session" else None
            truth = s.truth.pixel if (opts.truth and s.truth is not None) else None

            def picture(k, e, dest):
                # a guard: what reads the maps makes them finite, and nothing else is ever drawn
                if not np.isfinite(e).all():
                    raise AcamError(f"{dest}: frame {k}: expected a finite acoustic map, found "
                                    f"{int(np.count_nonzero(~np.isfinite(e)))} NaN or infinite cells; nothing written")
                top = top_session if top_session is not None else float(np.max(e))
                if not np.isfinite(top):
                    raise AcamError(f"{dest}: frame {k}: expected a finite top of the dB scale (--reference session), "
                                    f"found {top} (another frame's map is not finite); nothing written")
                return overlay_frame(s.frame(k), e, top, opts, truth[k] if truth is not None else None)

            if png is not None:
                k = 0 if frame is None else frame
                if not 0 <= k < s.n_frames:
                    raise AcamError(f"--frame {k}: the session has frames 0..{s.n_frames - 1}")
                (_, e), = list(src.frames([k]))
                write_png(png, picture(k, e, png), overwrite=overwrite)
                result["png"] = str(png)
            if out is not None:
                w = s.camera.width * (3 if opts.side_by_side else 1)
                with atomic_output(out, overwrite=overwrite, inputs=(session_path, acoustic)) as tmp:
                    writer = _Mp4Writer(tmp, (w, s.camera.height), s.video_fps, name=out)
                    try:
                        for k, e in src.frames():
                            writer.write(picture(k, e, out))
                            if progress:
                                progress(k + 1, s.n_frames)
                    except BaseException:
                        writer.abort()
                        raise
                    writer.close()
                result.update(mp4=str(out), frames=s.n_frames, fps=s.video_fps, size=(w, s.camera.height))
            result["energy_from"] = src.mode
        finally:
            src.close()
    return result
