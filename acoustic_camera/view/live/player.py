"""The simulated DualCam played in real time: the source of ``acam live --simulated``.

The simulator runs in its own thread, ahead of the clock (it needs ~1/2 of real time on two
cores in the anechoic scenario, ~3/4 indoors); the player releases its audio block by block at
the sample rate, as a sound card's callback would, and each video frame when the audio reaches
its timestamp. What has been played is what is recorded: ``--record`` writes each group of
frames once its audio is out, through the same writer as ``acam capture`` (so the file equals
``acam capture``'s for the same settings, sample for sample). A simulation slower than real time
stalls the clock rather than dropping audio; the stalls are counted and reported.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Callable

from ...errors import AcamError
from ...io.session import WriteBehind
from ...sim.simulator import SimConfig, Simulator, session_writer
from .feed import LiveFeed

BLOCK = 256  # samples released at a time: a sound card's period (21 ms at 12 kHz)


def play_simulated(cfg: SimConfig, feed: LiveFeed, *, record: str | Path | None = None, overwrite: bool = False,
                   preroll: float = 2.0, should_stop: Callable[[], str | None] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Play ``cfg`` into ``feed`` in real time (and into the session file ``record``).

    ``preroll``: seconds simulated before the clock starts (``inf``: the whole session first, so
    that the simulation's CPU does not compete with the view). Returns a summary: samples, stalls
    (count, seconds: the simulation was behind), ``late_max_s`` (the latest a block was released
    after its time: what a view holding up the source would show), stopped_by."""
    sim = Simulator(cfg)
    # chunks are one second each (12 frames): ahead of the clock by the preroll and a few more,
    # not by the whole session (raw audio and frames are ~17 MB/s)
    chunks: queue.Queue = queue.Queue(maxsize=0 if preroll == float("inf") else int(preroll) + 8)
    failed: list = []
    quit_ev = threading.Event()

    def put(item) -> bool:
        while not quit_ev.is_set():
            try:
                chunks.put(item, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            for ch in sim.chunks():
                if not put(ch):
                    return
        except BaseException as exc:  # reported by the player, in its thread
            failed.append(exc)
        put(None)

    writer = session_writer(cfg, sim, record, overwrite=overwrite) if record is not None else None

    def write(ch, played):  # what was played of a group of frames
        keep = ch.frame_sample_index < played
        writer.write_frames(ch.frames[keep], ch.frame_sample_index[keep], {k: v[keep] for k, v in ch.truth.items()})
        writer.write_audio(ch.audio[:played - ch.start])
        writer.flush()

    # the disk in its own thread, as a capture's: the "sound card" never waits for it
    disk = WriteBehind(name="acam-sim-writer") if writer is not None else None
    producer = threading.Thread(target=produce, name="acam-sim", daemon=True)
    producer.start()
    fs = cfg.sample_freq
    need = min(preroll * fs, sim.n_samples)
    pending: list = []
    while sum(len(c.audio) for c in pending) < need:
        ch = chunks.get()
        if ch is None:
            break
        pending.append(ch)
    if failed:
        raise AcamError(f"the simulation failed: {failed[0]}") from failed[0]
    stalls, stall_s, stopped_by, played, late_max = 0, 0.0, None, 0, 0.0
    t0 = time.monotonic()
    try:
        while True:
            if pending:
                ch = pending.pop(0)
            else:
                waited = time.monotonic()
                ch = chunks.get()
                if ch is not None and time.monotonic() - waited > 0.01:
                    late = time.monotonic() - (t0 + ch.start / fs)
                    if late > 0:  # the device clock waits for the simulation; nothing is lost
                        stalls += 1
                        stall_s += late
                        t0 += late
            if ch is None:
                if failed:
                    raise AcamError(f"the simulation failed: {failed[0]}") from failed[0]
                break
            frames = list(zip(ch.frame_sample_index.tolist(), ch.frames))
            for a in range(0, len(ch.audio), BLOCK):
                block = ch.audio[a:a + BLOCK]
                start = ch.start + a
                due = t0 + (start + len(block)) / fs
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:  # released late: a view or a writer holding up the "sound card" would show here
                    late_max = max(late_max, -wait)
                wall = time.time()
                feed.push_audio(start, block, wall)
                while frames and frames[0][0] < start + len(block):
                    feed.push_frame(*frames.pop(0))
                played = start + len(block)
                stopped_by = should_stop() if should_stop else None
                if stopped_by:
                    break
            if disk is not None:
                disk.put(write, ch, played)
                if disk.failed:
                    raise AcamError(f"{record}: writing failed: {disk.failed}") from disk.failed
            if progress:
                progress(played, sim.n_samples)
            if stopped_by:
                break
    except BaseException as exc:
        quit_ev.set()
        if disk is not None:
            disk.finish()
            writer.close(f"error: {type(exc).__name__}: {exc}", clean=False)
        feed.close(f"error: {exc}")
        raise
    quit_ev.set()
    if disk is not None:
        if disk.finish():
            writer.close(f"error: {disk.failed}", clean=False)
            feed.close(f"error: {disk.failed}")
            raise AcamError(f"{record}: writing failed: {disk.failed}") from disk.failed
        writer.close(f"stopped by {stopped_by}" if stopped_by else "completed")
    feed.close(f"stopped by {stopped_by}" if stopped_by else "completed")
    return {"samples": played, "duration_s": played / fs, "stalls": stalls, "stall_s": stall_s, "late_max_s": late_max,
            "stopped_by": stopped_by, "path": None if record is None else str(record)}
