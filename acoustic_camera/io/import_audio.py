"""Import of a recording made outside acam (any array's multichannel audio, see
:mod:`.audiofiles`) with what the camera saw: a video, one photo, or nothing.

    acam import audio rec.wav --geometry uma16 --video phone.mp4 --video-offset 0.4 --out s.h5
        -> import_audio(["rec.wav"], "s.h5", geometry=preset("uma16"), video="phone.mp4", video_offset=0.4)

The rules (each refusal one line naming the file, the field, what was expected, what was found):

- The audio keeps its rate (8 to 192 kHz are the recorders'; acam takes 1 to 384 kHz); channel
  ``channels[m]`` of the file becomes microphone m of the geometry; ``bad`` marks microphones
  dead. With a ``sensitivity`` (:func:`.audiofiles.parse_sensitivity`) samples are stored in
  pascals, as the simulator's are; without one as read (float files as they are, integer files
  scaled to full scale +-1), and the session's ``units`` say so: levels are then dB re full
  scale, not SPL.
- A video's frame k shown at ``t_k + video_offset`` seconds of the audio (``t_k`` its own
  timestamp; a positive offset: the video started after the audio). Frames that fall outside
  the audio are left out. The video must cover the audio to within one frame at each end
  (a phone stopped early would leave seconds of sound with no picture, silently): else one line
  with both spans, and the offset or ``--picture`` as the way out.
- A photo is shown behind every frame, at ``fps`` frames per second over the whole audio.
- Neither: a neutral grey picture with the look grid, ``fps`` frames per second.
- The camera: a :class:`~acoustic_camera.array.camera.Camera` given (its size must be the
  picture's), or square pixels with a horizontal field of view ``hfov`` (degrees) and the
  picture's size; it looks along the array's axis from its centre unless a calibration says
  otherwise (``acam calibrate``).

Audio is streamed in blocks (:data:`.audiofiles.BLOCK` samples) and frames one at a time, so
memory stays bounded for any length; the session is written through
:func:`.atomic.atomic_output` (a failed import leaves no file).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from .. import options
from ..array.camera import Camera
from ..array.geometry import ArrayGeometry
from ..constants import CAMERA_HFOV_DEG, CAMERA_HEIGHT, CAMERA_WIDTH, VIDEO_FPS
from ..errors import AcamError
from .atomic import atomic_output, check_output
from .audiofiles import open_recording, parse_channels, parse_sensitivity
from .session import SessionWriter

DEVICE = "imported recording"
UNITS_AS_RECORDED = "full scale (as recorded; integer files scaled to +-1): levels are dB re full scale, not SPL"


def _read_picture(path) -> np.ndarray:
    import cv2

    p = Path(path)
    if not p.is_file():
        raise AcamError(f"{p}: no such picture file (--picture)")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise AcamError(f"{p}: expected a picture OpenCV can read (--picture: JPEG, PNG, BMP, TIFF...), found one it "
                        "cannot decode")
    return np.ascontiguousarray(img[..., ::-1])


def grid_picture(width: int = CAMERA_WIDTH, height: int = CAMERA_HEIGHT, rows: int = 36, cols: int = 48) -> np.ndarray:
    """A neutral grey picture with the look grid's cell borders: the background of a recording
    without a camera."""
    img = np.full((height, width, 3), 96, np.uint8)
    for r in range(1, rows):
        img[int(round(r * height / rows)), :] = 112
    for c in range(1, cols):
        img[:, int(round(c * width / cols))] = 112
    return img


class _Video:
    """A video file's frames with their timestamps (s), read one at a time."""

    def __init__(self, path):
        import os

        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # our line, not FFmpeg's, for a damaged file
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise AcamError(f"{self.path}: no such video file (--video)")
        self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            raise AcamError(f"{self.path}: expected a video OpenCV can read (--video), found one it cannot open")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0)
        n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.width, self.height = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not (options.FPS.lo <= self.fps <= options.FPS.hi) or self.width < 1 or self.height < 1:
            raise AcamError(f"{self.path}: expected a video of {options.FPS.describe()} with a picture size, found "
                            f"{self.fps:g} fps, {self.width}x{self.height}")
        self.duration = n / self.fps if n > 0 else None

    def frames(self):
        import cv2

        k = 0
        while True:
            ok, bgr = self.cap.read()
            if not ok:
                return
            # the container's own timestamps (a phone's video has a variable rate); k / fps without them
            t = self.cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if k > 0 and not t > 0:
                t = k / self.fps
            yield k, t, np.ascontiguousarray(bgr[..., ::-1])
            k += 1

    def close(self):
        self.cap.release()


def import_audio(paths, out_path, *, geometry: ArrayGeometry, channels: str | None = None, bad=(),
                 video=None, video_offset: float = 0.0, picture=None, camera: Camera | None = None,
                 hfov: float | None = None, fps: float = VIDEO_FPS, overwrite: bool = False,
                 progress: Callable[[int, int], None] | None = None, metadata: dict | None = None,
                 sensitivity: str | None = None) -> dict:
    """Import a recording (one or several files, joined) into a session file; returns a summary.
    See the module's docstring for the rules."""
    t0 = time.perf_counter()
    rec = open_recording(paths)
    out = check_output(out_path, overwrite, inputs=tuple(p.path for p in rec.parts) + tuple(
        Path(x) for x in (video, picture) if x is not None))
    if video is not None and picture is not None:
        raise AcamError("--video and --picture: give one (a video, or one photo behind every frame)")
    options.SAMPLE_RATE(rec.sample_freq, f"{rec.parts[0].path}: sample rate")
    chans = np.asarray(parse_channels(channels, rec.n_channels, geometry.n_mics))
    if sensitivity is not None:
        sens, sens_text = parse_sensitivity(sensitivity, geometry.n_mics)
        per_pa = (1.0 / sens).astype(np.float32)
        units = f"Pa (sensitivity {sens_text})"
    else:
        per_pa, units = None, UNITS_AS_RECORDED
    if len(tuple(bad)):
        geometry = geometry.with_bad(bad)
    video_offset = options.VIDEO_OFFSET(video_offset, "--video-offset")
    fs, n = rec.sample_freq, rec.n_samples
    duration = n / fs

    vid, still = None, None
    if video is not None:
        vid = _Video(video)
        size = (vid.width, vid.height)
        if vid.duration is not None:
            start, end = video_offset, video_offset + vid.duration
            slack = 1.0 / vid.fps
            if start > slack or end < duration - slack:
                vid.close()
                raise AcamError(f"{vid.path}: expected a video covering the audio's 0-{duration:.2f} s (to within one "
                                f"frame), found one at {start:.2f}-{end:.2f} s with --video-offset {video_offset:g}: "
                                "set the offset (acam calibrate sync finds it), or use --picture")
        video_fps = vid.fps
    else:
        still = _read_picture(picture) if picture is not None else grid_picture()
        still.setflags(write=False)  # the writer encodes a read-only picture once
        size = (still.shape[1], still.shape[0])
        video_fps = options.FPS(fps, "--fps")
    if camera is not None:
        if (camera.width, camera.height) != size:
            raise AcamError(f"--camera: expected a camera of the picture's {size[0]}x{size[1]} pixels, found "
                            f"{camera.width}x{camera.height}")
    else:
        hfov = CAMERA_HFOV_DEG if hfov is None else hfov
        camera = Camera.with_fov(options.HFOV_DEG(hfov, "--hfov"), size[0], size[1])

    md = {"device": DEVICE, "label": "", "scenario": "", "subject": "",
          "source_files": [str(p.path) for p in rec.parts], "source_encoding": [p.encoding for p in rec.parts],
          "file_boundaries": list(rec.starts[1:]), "channels": chans.tolist(),
          "units": units,
          "video": str(video) if video is not None else None, "video_offset_s": video_offset if video is not None else None,
          "picture": str(picture) if picture is not None else None, **(metadata or {})}
    frames_written = 0
    try:
        with atomic_output(out, overwrite=overwrite) as tmp:
            with SessionWriter(tmp, sample_freq=fs, geometry=geometry, camera=camera, video_fps=video_fps,
                               metadata=md, overwrite=True, video_format="jpeg", final_path=out) as w:
                frames = vid.frames() if vid is not None else None
                pending = next(frames, None) if frames is not None else None
                k_still = 0
                for a, block in rec.blocks():
                    x = block[:, chans]
                    w.write_audio(x if per_pa is None else x * per_pa)
                    end = a + len(block)
                    # the frames shown up to the end of the audio written so far
                    if vid is not None:
                        while pending is not None:
                            _, t, rgb = pending
                            s = int(round((t + video_offset) * fs))
                            if s >= end:
                                break
                            if s >= 0 and (rgb.shape[1], rgb.shape[0]) == size:
                                w.write_frames(rgb, [s])
                                frames_written += 1
                            pending = next(frames, None)
                    else:
                        while True:
                            s = int(round(k_still * fs / video_fps))
                            if s >= end:
                                break
                            w.write_frames(still, [s])
                            frames_written += 1
                            k_still += 1
                    if progress is not None:
                        progress(end, n)
            if frames_written == 0:
                raise AcamError(f"{video}: expected video frames within the audio's 0-{duration:.2f} s, found none "
                                f"(--video-offset {video_offset:g})")
    finally:
        if vid is not None:
            vid.close()
    seconds = time.perf_counter() - t0
    return {"path": str(out), "samples": n, "channels": int(geometry.n_mics), "sample_freq": fs, "frames": frames_written,
            "seconds": seconds, "mb_per_s": n * rec.n_channels * 4 / 2**20 / seconds if seconds > 0 else 0.0,
            "files": len(rec.parts), "picture": "video" if vid is not None else "photo" if picture is not None else "grid"}
