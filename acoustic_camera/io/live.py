"""Live capture from a real microphone array (any PortAudio input) and a real camera.

Audio is the master clock. The PortAudio callback only copies each block into a preallocated
ring buffer and notes what arrived (or was lost) in an event queue; a writer thread drains
both into the session file, so the callback never touches the disk. Lost audio is never
silently concatenated: blocks PortAudio dropped (seen as a jump of the ADC timestamps) and
blocks the ring had no room for (a stalled writer) become zero-filled gaps at their place in
time, listed in ``/audio_gaps``, counted, and reported.

Each video frame is stamped on the audio clock: the PortAudio stream time at which the frame
arrived, mapped to a sample index through the ADC time of the first audio block. The camera's
own timestamps (when it gives them) against those audio-clock times give the camera-audio clock
drift, stored at the end with the other capture statistics.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..array.camera import Camera
from ..array.geometry import ArrayGeometry
from ..constants import CAMERA_HFOV_DEG, VIDEO_FPS
from ..errors import AcamError
from .session import SessionWriter, WriteBehind


def _sd():
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise AcamError(f"live capture needs sounddevice and the PortAudio library (pip install "
                        f"'acoustic-camera[live]'; Debian: libportaudio2): {exc}") from None
    return sd


def list_audio_inputs() -> list[dict]:
    """Audio input devices: index, name, host API, input channels, default rate."""
    sd = _sd()
    apis = sd.query_hostapis()
    return [{"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"], "channels": d["max_input_channels"],
             "default_rate": d["default_samplerate"]} for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def list_cameras(max_index: int = 8) -> list[dict]:
    """Cameras (by index) that open and deliver a frame."""
    import cv2

    found = []
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # absent indices are expected
    try:
        for i in range(max_index):
            cap = cv2.VideoCapture(i)
            if cap.isOpened():
                ok, frame = cap.read()
                if ok:
                    found.append({"index": i, "width": frame.shape[1], "height": frame.shape[0],
                                  "fps": cap.get(cv2.CAP_PROP_FPS)})
            cap.release()
    finally:
        cv2.utils.logging.setLogLevel(level)  # the caller's logging, as it was
    return found


def resolve_device(spec) -> int:
    """An input device by index or (part of its) name, with a clear error listing the inputs."""
    inputs = list_audio_inputs()
    names = "; ".join(f"{d['index']}: {d['name']} ({d['channels']} ch)" for d in inputs) or "none"
    try:
        idx = int(spec)
        if any(d["index"] == idx for d in inputs):
            return idx
    except (TypeError, ValueError):
        matches = [d["index"] for d in inputs if str(spec).lower() in d["name"].lower()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AcamError(f"audio device {spec!r} is ambiguous; input devices: {names}") from None
    raise AcamError(f"audio device {spec!r} not found; input devices: {names}")


@dataclass
class LiveStats:
    blocks: int = 0
    overflows: int = 0  # PortAudio reported input overflow
    dropped_blocks: int = 0  # lost before reaching us (ADC time jumped) or no room in the ring
    ring_full_blocks: int = 0
    gap_samples: int = 0
    frames: int = 0
    dropped_frames: int = 0
    drift_ppm: float | None = None
    gaps: list = field(default_factory=list)


class _Ring:
    """Single-producer single-consumer sample ring; the producer never blocks or allocates."""

    def __init__(self, capacity: int, channels: int):
        self.buf = np.zeros((capacity, channels), np.float32)
        self.cap = capacity
        self.head = 0  # samples written (producer)
        self.tail = 0  # samples read (consumer)

    def free(self) -> int:
        return self.cap - (self.head - self.tail)

    def push(self, block: np.ndarray) -> None:
        n = len(block)
        i = self.head % self.cap
        k = min(n, self.cap - i)
        self.buf[i:i + k] = block[:k]
        self.buf[: n - k] = block[k:]
        self.head += n

    def pop(self, n: int) -> np.ndarray:
        i = self.tail % self.cap
        k = min(n, self.cap - i)
        out = np.concatenate([self.buf[i:i + k], self.buf[: n - k]]) if k < n else self.buf[i:i + n].copy()
        self.tail += n
        return out


class _NoFile:
    """Stands in for the session writer when nothing is recorded (a live view alone)."""

    def __init__(self):
        self.n_samples = 0

    def write_audio(self, block):
        self.n_samples += len(block)

    def write_gap(self, start, length):
        pass

    def write_frames(self, frames, sample_index):
        pass

    def close(self, *args, **kwargs):
        pass


def _raise_write_failure(out, exc: BaseException):
    """The session writer's error as it is when it names the file and what became of it (a full
    disk: :class:`~acoustic_camera.errors.DiskError`), else one line naming the file."""
    if isinstance(exc, AcamError):
        raise exc
    raise AcamError(f"{out}: writing failed: {exc}") from exc


def _close_quietly(stream, abort: bool) -> None:
    try:
        stream.abort() if abort else stream.stop()
        stream.close()
    except Exception:
        pass


def capture_live(out: str | Path | None, *, audio_device, channels: int, rate: float, geometry: ArrayGeometry,
                 camera=None, duration: float | None = None, blocksize: int = 1024, ring_seconds: float = 4.0,
                 overwrite: bool = False, should_stop=None, progress=None, metadata: dict | None = None,
                 tap=None, lost_after: float = 2.0, on_start=None,
                 _stall_writer: tuple[float, float] | None = None) -> dict:
    """Record audio (and video when ``camera`` is an index, a file path or a URL) into a session.

    Stops at ``duration`` seconds of audio or when ``should_stop()`` returns a reason; the file
    is then closed cleanly. ``out`` None records nothing (a live view alone). ``tap``: an object
    with ``push_audio(start, block, wall)``, ``push_frame(sample_index, rgb)`` and
    ``close(reason)`` (:class:`acoustic_camera.view.live.feed.LiveFeed`) that gets every block
    and frame as the file does, from the writer's thread (never from the audio callback), within
    ~10 ms of their arrival. ``on_start(camera)``: called with the camera model once the
    devices are open. A device that delivers no audio for ``lost_after`` seconds (unplugged, its
    server stopped) ends the capture: the file is closed cleanly and ``device_lost`` says so.
    ``_stall_writer=(at_s, for_s)`` stalls the writer on purpose (tests of the overflow path)."""
    import cv2

    sd = _sd()
    if geometry.n_mics != channels:
        raise AcamError(f"geometry {geometry.name!r} has {geometry.n_mics} microphones but {channels} channels are "
                        f"recorded: they must match")
    dev = resolve_device(audio_device)
    try:
        sd.check_input_settings(device=dev, channels=channels, samplerate=rate, dtype="float32")
    except Exception as exc:  # PortAudio says why in its own words
        info = sd.query_devices(dev)
        raise AcamError(f"audio device {info['name']!r} cannot deliver {channels} channels at {rate:g} Hz "
                        f"(it has {info['max_input_channels']} inputs, default rate {info['default_samplerate']:g} Hz): {exc}") from None
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not overwrite:
        raise AcamError(f"{out}: file exists (pass --overwrite to replace it)")

    cap = None
    cam_model = Camera()
    src_fps = None
    if camera is not None:
        cap = cv2.VideoCapture(int(camera) if str(camera).isdigit() else str(camera))
        if not cap.isOpened():
            raise AcamError(f"camera {camera!r} does not open (an index, a video file or a stream URL)")
        ok, first = cap.read()
        if not ok:
            raise AcamError(f"camera {camera!r} opened but delivered no frame")
        h, w = first.shape[:2]
        cam_model = Camera.with_fov(CAMERA_HFOV_DEG, w, h) if (w, h) != (cam_model.width, cam_model.height) else cam_model
        src_fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        is_file = not str(camera).isdigit() and Path(str(camera)).exists()
    stats = LiveStats()
    ring = _Ring(int(ring_seconds * rate), channels)
    events: collections.deque = collections.deque()  # ('data', n) / ('gap', start, n), in stream order
    state = {"pos": 0, "adc0": None, "next_adc": None, "stop": None, "last": time.monotonic()}

    def callback(indata, frames, time_info, status):
        state["last"] = time.monotonic()
        wall = time.time()
        adc = time_info.inputBufferAdcTime
        if status.input_overflow:
            stats.overflows += 1
        if state["adc0"] is None:
            state["adc0"] = adc
            state["next_adc"] = adc
        elif adc > 0 and state["next_adc"] is not None:
            lost = int(round((adc - state["next_adc"]) * rate))
            if lost >= frames // 2:  # PortAudio lost blocks before they reached us
                events.append(("gap", state["pos"], lost))
                state["pos"] += lost
                stats.dropped_blocks += max(1, round(lost / frames))
        if ring.free() >= frames:
            ring.push(indata)
            events.append(("data", frames, wall))
        else:  # the writer is behind: keep time, lose the block, say so
            events.append(("gap", state["pos"], frames))
            stats.ring_full_blocks += 1
            stats.dropped_blocks += 1
        state["pos"] += frames
        state["next_adc"] = adc + frames / rate
        stats.blocks += 1

    md = {"device": f"live: {sd.query_devices(dev)['name']}", "audio_device": sd.query_devices(dev)["name"],
          "units": "device full scale (float32)", "camera_source": str(camera) if camera is not None else None}
    md.update(metadata or {})
    writer = SessionWriter(out, sample_freq=rate, geometry=geometry, camera=cam_model,
                           video_fps=src_fps or VIDEO_FPS, metadata=md, overwrite=overwrite) if out is not None else _NoFile()
    if on_start is not None:
        on_start(cam_model)
    frames_q: queue.Queue = queue.Queue(maxsize=64)
    cam_times, audio_times = [], []
    stop_ev = threading.Event()

    def video_loop():
        t_start = None
        k = 0
        frame = first
        while not stop_ev.is_set():
            if state["adc0"] is None:
                time.sleep(0.005)
                continue
            if t_start is None:
                t_start = stream.time
            if is_file:  # a file plays at its own rate, like a camera would deliver it
                due = t_start + k / src_fps
                wait = due - stream.time
                if wait > 0:
                    time.sleep(wait)
            if k > 0:
                ok, frame = cap.read()
                if not ok:
                    break
            t_audio = stream.time
            idx = int(round((t_audio - state["adc0"]) * rate))
            cam_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            try:
                frames_q.put_nowait((idx, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), cam_ms / 1000.0, t_audio - state["adc0"]))
            except queue.Full:
                stats.dropped_frames += 1
            k += 1

    last_idx = -1
    written_gaps = [0]
    limit = int(round(duration * rate)) if duration is not None else None

    # the file behind its own thread: a flush holds up neither the ring's reader nor a live
    # view's tap; about a ring's length of calls may wait, then a slow disk holds up the reader,
    # the ring fills, and the blocks it cannot take become counted gaps, as before
    ops = None
    planned = [0]  # samples handed to the file (and the tap) so far

    def put_audio(block, wall=None):
        # a capture asked for D seconds holds exactly D seconds, though blocks overshoot
        if limit is not None:
            block = block[: max(0, limit - planned[0])]
        if len(block):
            if tap is not None:
                tap.push_audio(planned[0], block, wall)
            ops.put(writer.write_audio, block)
            planned[0] += len(block)

    def drain(final=False):
        nonlocal last_idx
        if _stall_writer is not None and not final:
            at, dur = _stall_writer
            if state["pos"] >= at * rate and not state.get("stalled"):
                state["stalled"] = True
                time.sleep(dur)
        while events:
            ev = events.popleft()
            if ev[0] == "data":
                put_audio(ring.pop(ev[1]), ev[2])
                continue
            _, start, n = ev
            if limit is not None:
                n = min(n, limit - start)
                if n <= 0:
                    continue
            put_audio(np.zeros((n, channels), np.float32))
            stats.gap_samples += n
            if stats.gaps and sum(stats.gaps[-1]) == start:  # consecutive lost blocks: one gap
                stats.gaps[-1] = (stats.gaps[-1][0], stats.gaps[-1][1] + n)
            else:
                stats.gaps.append((start, n))
        while len(stats.gaps) > written_gaps[0]:
            # a gap is final once audio follows it (or at the end)
            if len(stats.gaps) - written_gaps[0] == 1 and not final and (not events and sum(stats.gaps[-1]) >= planned[0]):
                break
            ops.put(writer.write_gap, *stats.gaps[written_gaps[0]])
            written_gaps[0] += 1
        while True:
            try:
                idx, img, cam_t, aud_t = frames_q.get_nowait()
            except queue.Empty:
                break
            idx = max(idx, last_idx + 1)  # strictly increasing, even for frames read in a burst
            if limit is not None and idx >= limit:
                continue
            if tap is not None:
                tap.push_frame(idx, img)
            ops.put(writer.write_frames, img[None], np.array([idx]))
            last_idx = idx
            stats.frames += 1
            cam_times.append(cam_t)
            audio_times.append(aud_t)

    reason = "completed"
    lost = None
    dev_name = sd.query_devices(dev)["name"]
    try:
        stream = sd.InputStream(device=dev, channels=channels, samplerate=rate, dtype="float32",
                                blocksize=blocksize, callback=callback)
        vt = threading.Thread(target=video_loop, daemon=True) if cap is not None else None
        ops = WriteBehind(depth=int(ring_seconds * rate / blocksize) + 64, name="acam-capture-writer")
        stream.start()
        state["last"] = time.monotonic()
        try:
            if vt:
                vt.start()
            while True:
                time.sleep(0.01 if tap is not None else 0.05)  # a live view is waiting for the newest block
                drain()
                if ops.failed:
                    _raise_write_failure(out, ops.failed)
                if progress:
                    progress(planned[0], int(duration * rate) if duration else None)
                if duration is not None and state["pos"] >= duration * rate:
                    break
                r = should_stop() if should_stop else None
                if r:
                    reason = f"stopped by {r}"
                    break
                silent = time.monotonic() - state["last"]
                if silent > lost_after or not stream.active:
                    lost = (f"audio device {dev_name!r} stopped delivering audio after {planned[0] / rate:.1f} s "
                            f"({'its stream ended' if silent <= lost_after else f'nothing for {silent:.1f} s'}: "
                            "unplugged, or its audio server stopped)")
                    reason = "device lost"
                    break
        finally:
            if lost:  # PortAudio may never return from stopping a device that has gone: not our file's problem
                closer = threading.Thread(target=_close_quietly, args=(stream, True), daemon=True)
                closer.start()
                closer.join(timeout=2.0)
                state["hung"] = closer.is_alive()
            else:
                _close_quietly(stream, False)
        stop_ev.set()
        if vt:
            vt.join(timeout=5)
        drain(final=True)
        if ops.finish():
            _raise_write_failure(out, ops.failed)
        if len(cam_times) > 10 and np.ptp(cam_times) > 0:
            slope = np.polyfit(np.asarray(cam_times), np.asarray(audio_times), 1)[0]
            stats.drift_ppm = float((slope - 1.0) * 1e6)
        summary = {k: v for k, v in vars(stats).items() if k != "gaps"}
        writer.close(lost or reason, attrs={"capture_stats_json": json.dumps(summary)})
        if tap is not None:
            tap.close(lost or reason)
    except BaseException as exc:
        stop_ev.set()
        if ops is not None:
            ops.finish(timeout=30)
        writer.close(f"error: {type(exc).__name__}: {exc}", clean=False)
        if tap is not None:
            tap.close(f"error: {exc}")
        raise
    finally:
        if cap is not None:
            cap.release()
    return {"path": None if out is None else str(out), "samples": writer.n_samples, "duration_s": writer.n_samples / rate,
            "stopped_by": None if reason in ("completed", "device lost") else reason, "device_lost": lost,
            "device_hung": bool(state.get("hung")),
            **summary, "gaps": stats.gaps}
