"""``acam live``: the feed, the imager, and the page in a real headless Chromium (Debian's
``chromium``, driven over the DevTools protocol), with the simulated DualCam played in real time.
What is asserted is what a user sees: the hot spot on the page's pixels at the source's pixel,
following it as it walks; the page's frame rate and onset-to-overlay latency from the timestamps
it exposes; the recording equal to ``acam capture``'s; clients that stall or leave holding up
nobody; a port in use as one line. The JACK (device) path is in ``test_live_view_jack.py``."""

import json
import re
import socket
import threading
import time

import numpy as np
import pytest

from acoustic_camera import open_session
from acoustic_camera.beamform.beamformer import Beamformer
from acoustic_camera.errors import AcamError
from acoustic_camera.sim.simulator import SimConfig, Simulator
from acoustic_camera.sim.trajectories import parse_sources
from acoustic_camera.view.live.feed import LiveFeed
from acoustic_camera.view.live.imager import LiveImager, ViewSettings, colormap_lut

from conftest import run_acam

from benchmarks.browser import Chromium, chromium_path  # noqa: E402
from benchmarks.live_view import CLICKS, hot_spot, onset_latencies, onsets, simulated_args, start_live  # noqa: E402

FS = 12000.0


def test_feed_keeps_absolute_time_across_gaps_and_the_ring():
    feed = LiveFeed(FS, 3, seconds=0.5)  # 6000 samples
    x = np.arange(20000 * 3, dtype=np.float32).reshape(20000, 3)
    walls = []
    for a in range(0, 8000, 1000):
        walls.append(1000.0 + a / FS)
        feed.push_audio(a, x[a:a + 1000], wall=walls[-1])
    assert feed.end == 8000
    assert np.array_equal(feed.read(3000, 8000), x[3000:8000])
    assert not feed.read(1000, 2000).any()  # older than the ring: zeros, never stale samples
    assert np.array_equal(feed.read(7500, 8500)[:500], x[7500:8000]) and not feed.read(7500, 8500)[500:].any()
    feed.push_audio(10000, x[10000:11000], wall=2000.0)  # 2000 samples lost: silence, time kept
    assert feed.end == 11000 and not feed.read(8000, 10000).any()
    assert np.array_equal(feed.read(9000, 11000)[1000:], x[10000:11000])
    # the block [7000, 8000) arrived at walls[-1]: its first sample 999 samples earlier
    assert feed.wall_of(7000) == pytest.approx(walls[-1] - 999 / FS)
    assert feed.wall_of(10999) == pytest.approx(2000.0)


@pytest.fixture(scope="module")
def static_scene():
    """Three seconds of a loudspeaker left of centre, anechoic: audio, frames, truth pixel."""
    cfg = SimConfig(duration=3.0, sources=parse_sources("noise:static@-0.6,0.15,2.5"), noise=False, seed=3)
    chunks = list(Simulator(cfg).chunks())
    return cfg, chunks


def _play(feed, imager, chunks, block=256):
    pictures = []
    for ch in chunks:
        frames = list(zip(ch.frame_sample_index.tolist(), ch.frames))
        for a in range(0, len(ch.audio), block):
            feed.push_audio(ch.start + a, ch.audio[a:a + block])
            while frames and frames[0][0] < ch.start + a + block:
                feed.push_frame(*frames.pop(0))
            f = imager.step()
            if f is not None:
                pictures.append(f)
    return pictures


def test_imager_puts_the_source_at_its_pixel_in_every_picture(static_scene):
    cfg, chunks = static_scene
    truth = chunks[0].truth["pixel"][0, 0]
    bf = Beamformer(cfg.geometry, cfg.camera, cfg.sample_freq)
    feed = LiveFeed(cfg.sample_freq, cfg.geometry.n_mics)
    imager = LiveImager(feed, bf, ViewSettings(band=(2000, 5000)))
    pictures = _play(feed, imager, chunks)
    # one picture per video frame, each of the newest frame, none skipped when played block by block
    assert len(pictures) == sum(len(c.frames) for c in chunks) and imager.skipped == 0
    errs = [np.hypot(*(np.array(p.meta["peak"]) - truth)) for p in pictures]
    assert max(errs) < 14, errs  # within one acoustic pixel (13.3 video pixels)
    p = pictures[10]
    assert p.jpeg[:2] == b"\xff\xd8" and p.meta["floor_db"] == pytest.approx(p.meta["top_db"] - 12)
    assert p.meta["end_sample"] == p.meta["frame_sample"] + 512
    # a short-time method on the last 12 frames' CSM finds it too (and only sees the past)
    imager2 = LiveImager(LiveFeed(cfg.sample_freq, cfg.geometry.n_mics), bf,
                         ViewSettings(band=(1000, 2000), method="capon", csm_frames=12))
    pics = _play(imager2.feed, imager2, chunks[:2], block=1024)
    errs = [np.hypot(*(np.array(p.meta["peak"]) - truth)) for p in pics[-6:]]
    assert max(errs) < 14, errs


def test_view_settings_are_checked_in_one_line(static_scene):
    cfg, _ = static_scene
    bf = Beamformer(cfg.geometry, cfg.camera, cfg.sample_freq, grid=(6, 8))
    imager = LiveImager(LiveFeed(cfg.sample_freq, cfg.geometry.n_mics), bf)
    for kw, msg in (({"method": "music"}, "method: expected one of kernel, das"),
                    ({"dynamic_range_db": 0.5}, "dynamic range: expected a finite number >= 1 dB and <= 60 dB"),
                    ({"band": (3000, 2000)}, "band: expected LO:HI"),
                    ({"band": (7000, 8000)}, "--band")):
        with pytest.raises(AcamError, match=re.escape(msg)):
            imager.update(**kw)
    assert imager.update(method="das", dynamic_range_db=20).method == "das"


def test_a_port_in_use_is_one_line_before_anything_starts(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        t0 = time.monotonic()
        r = run_acam("live", "--simulated", "--port", port, "--record", tmp_path / "x.h5", check=False)
        assert time.monotonic() - t0 < 20
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert f"--port {port}: already in use on 127.0.0.1" in r.stderr
    assert not (tmp_path / "x.h5").exists()  # nothing recorded, nothing half-written


@pytest.mark.realtime  # 1.5 s played in real time
def test_run_live_applies_a_calibration_and_records_through_the_api(tmp_path):
    """The Python API end to end without a browser: a calibration's excluded microphones and
    camera reach the live beamformer; the pictures still find the source."""
    from acoustic_camera.io.calibration import Calibration, CameraCalibration, Fault, MicCalibration, write_calibration
    from acoustic_camera.view.live.run import SimulatedSource, run_live

    cfg = SimConfig(duration=1.5, sources=parse_sources("noise:static@-0.6,0.15,2.5"), noise=False, seed=3)
    freqs = np.array([500.0, 5000.0])
    mics = MicCalibration(freqs, np.ones((128, 2), complex), (500.0, 5000.0), (0.0, 0.0, 2.0),
                          (Fault(3, "dead", True, "no signal"), Fault(77, "noisy", True, "20 dB over the median")))
    cam = CameraCalibration(640, 480, 554.0, 554.0, 319.5, 239.5, (0, 0, 0, 0, 0), 0.1, 9)
    write_calibration(tmp_path / "cal.json", Calibration(microphones=mics, camera=cam))
    seen = []
    r = run_live(SimulatedSource(cfg, preroll=float("inf")), port=0, record=tmp_path / "r.h5",
                 calibration=tmp_path / "cal.json", settings=ViewSettings(band=(2000, 5000)), on_url=seen.append)
    bf = r["view"]["beamformer"]
    assert bf["bad_mics"] == [3, 77] and bf["calibrated"] and bf["calibration"]["excluded_mics"] == [3, 77]
    assert bf["calibration"]["camera"] == "intrinsics and distortion"
    assert r["view"]["pictures"] >= 5 and r["stalls"] == 0 and seen and seen[0].startswith("http://127.0.0.1:")
    with open_session(tmp_path / "r.h5") as s:
        assert s.closed_cleanly and s.n_samples == 18000


needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="no chromium (Debian package chromium; `make system-deps`)")


class LiveRun:
    """``acam live --simulated`` in a subprocess; its URL once it serves."""

    def __init__(self, sources, band, record, seed):
        self.proc, self.url = start_live(*simulated_args(sources, 10, band, record, seed=seed))

    def finish(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def _freeze_and_shoot(browser):
    """The picture on the page, frozen: (its metadata, a screenshot of it)."""
    meta = browser.eval("acam.freeze()")
    shot = browser.screenshot((0, 0, 640, 480))
    browser.eval("acam.resume()")
    return meta, shot


@needs_chromium
@pytest.mark.slow  # real time: 10 s of simulated audio
@pytest.mark.realtime
def test_the_page_shows_a_walking_source_at_its_pixel_and_records_what_capture_would(tmp_path):
    rec = tmp_path / "rec.h5"
    run = LiveRun("noise:walk", "2000:5000", rec, seed=2)
    shots = []
    with Chromium(run.url) as b:
        b.wait_for("acam.log.length > 3", 30)
        for _ in range(4):
            time.sleep(1.6)
            shots.append(_freeze_and_shoot(b))
        fps = b.eval("acam.fps")
        # the controls: a setting changes the next pictures; a bad one is one line on the page
        b.eval("acam.set({band: [1000, 2000], range: 20})")
        b.wait_for("acam.shown.settings.band[1] === 2000 && acam.shown.settings.dynamic_range_db === 20", 5)
        b.eval("acam.set({method: 'music'})")
        b.wait_for("acam.errors.length > 0", 5)
        assert "method: expected one of kernel" in b.eval("acam.errors[0]")
        # stopping the view leaves the recording running
        b.eval("acam.set({stop_view: true})")
        b.wait_for("!acam.connected", 5)
        stopped_at = b.eval("acam.log[acam.log.length - 1].end_sample")
    code, out, err = run.finish()
    assert code == 0, err
    lut = np.array(colormap_lut())
    with open_session(rec) as s:
        assert s.closed_cleanly and s.n_samples == 120000 and len(s.audio_gaps) == 0
        assert stopped_at < 0.9 * s.n_samples  # the view stopped well before the recording did
        fsi = s.frame_sample_index
        found, truths = [], []
        for meta, shot in shots:
            k = int(np.searchsorted(fsi, meta["frame_sample"]))
            assert fsi[k] == meta["frame_sample"]
            spot = hot_spot(shot, s.frame(k), lut)
            truth = s.truth.pixel[k, 0]
            found.append(spot)
            truths.append(truth)
            assert np.hypot(*(spot - truth)) < 20, (spot, truth)
        # it walked, and the hot spot went with it
        assert np.ptp(np.array(truths)[:, 0]) > 60
        ref = tmp_path / "ref.h5"
        run_acam("capture", "--out", ref, "--sources", "noise:walk", "--seed", "2", "--no-noise", "--duration", "10", "--quiet")
        with open_session(ref) as c:
            assert s.time_data_sha256() == c.time_data_sha256()
            assert np.array_equal(s.frame_sample_index, c.frame_sample_index)
            assert np.array_equal(s.truth.pixel, c.truth.pixel, equal_nan=True)
            assert np.array_equal(s.frame(60), c.frame(60))
    assert fps >= 6, fps  # the goal is the camera's 12; CI's two cores also run the browser
    assert "recorded" in out and "sent to pages" in out


@needs_chromium
@pytest.mark.slow  # real time: 10 s of simulated audio
@pytest.mark.realtime
def test_onset_to_overlay_latency_and_clients_that_stall_or_leave(tmp_path):
    from websockets.sync.client import connect

    rec = tmp_path / "clicks.h5"
    run = LiveRun(CLICKS, "900:", rec, seed=1)
    ws_url = run.url.replace("http", "ws") + "ws"
    got = {"reader": 0}
    stop = threading.Event()

    def reader():
        with connect(ws_url, max_size=None) as ws:
            while not stop.is_set():
                try:
                    if isinstance(ws.recv(timeout=0.5), bytes):
                        got["reader"] += 1
                except TimeoutError:
                    pass
                except Exception:
                    return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    # one client connects and then never reads a byte; another leaves without a goodbye
    with connect(ws_url, max_size=None), connect(ws_url, max_size=None) as leaver, Chromium(run.url) as b:
        b.wait_for("acam.log.length > 3", 30)
        for _ in range(4):
            leaver.recv(timeout=5)
        leaver.socket.close()  # gone without a goodbye
        b.wait_for("!acam.connected || acam.log.length > 100", 30)
        log = b.eval("acam.log")
        status = json.loads(b.eval("fetch('/status').then(r => r.text())"))
    stop.set()
    code, out, err = run.finish()
    assert code == 0, err
    late_ms = float(re.search(r"released at most (\d+) ms late", out).group(1))
    assert late_ms < 100, out  # the "sound card" was never held up by the view or its clients
    with open_session(rec) as s:
        assert s.closed_cleanly and s.n_samples == 120000 and len(s.audio_gaps) == 0
        mic0 = s.audio(channel=0)
        truth = s.truth.pixel[0, 0]
    lat, peaks = onset_latencies(onsets(mic0), log, FS)
    assert len(lat) >= 12  # ~19 clicks in the 10 s; the first ones may come before the page
    assert np.median(lat) <= 250, lat  # the goal, onset to overlay
    near = [np.hypot(*(np.array(p) - truth)) < 20 for p in peaks]
    assert np.mean(near) >= 0.9, peaks  # the picture that shows a click shows it at the source
    # the other clients: the reader kept up; the stalled one held up nobody
    made = status["view"]["frames"]
    assert got["reader"] >= 0.8 * len(log), (got, len(log))
    assert status["clients"] >= 2 and "stalls" not in err
    assert len(log) >= 0.6 * made, (len(log), made)


def test_non_finite_audio_enters_the_live_ring_as_silence_and_is_counted():
    from acoustic_camera.view.live.feed import LiveFeed

    feed = LiveFeed(12000, 4, seconds=1.0)
    block = np.ones((256, 4), np.float32)
    block[3, 2], block[5, 1], block[7, 0] = np.nan, np.inf, 3e38
    feed.push_audio(0, block)
    assert feed.nonfinite == 3 and np.isfinite(feed._buf).all() and feed._buf[3, 2] == 0 and feed._buf[4, 2] == 1
