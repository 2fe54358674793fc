"""``acam live`` on a real audio device: the JACK dummy server (128 channels at 12 kHz) through
PortAudio as the microphone array, a JACK client playing a simulated session into it, and that
session's video as an MJPG file for the camera. The page in headless Chromium must show the
source at its pixel; a device that disappears mid-way (the JACK server killed) must end in one
clear message with the recording closed cleanly."""

import time

import cv2
import numpy as np
import pytest

from acoustic_camera import open_session
from acoustic_camera.view.live.imager import colormap_lut

import jackrig
from conftest import run_acam
from jackrig import FS

from benchmarks.browser import Chromium, chromium_path  # noqa: E402
from benchmarks.live_view import hot_spot, start_live  # noqa: E402

SERVER = jackrig.server_name("view")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A loudspeaker right of centre, 6 s, anechoic: its audio for the player, its video as a file."""
    d = tmp_path_factory.mktemp("scene")
    path = d / "scene.h5"
    run_acam("capture", "--out", path, "--duration", 6, "--sources", "noise:static@0.6,-0.1,2.5", "--no-noise",
             "--seed", 4, "--rate", FS, "--quiet")
    video = d / "cam.avi"
    with open_session(path) as s:
        audio = s.audio()
        truth = s.truth.pixel[0, 0]
        w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 12, (640, 480))
        for k in range(s.n_frames):
            w.write(s.frame(k)[:, :, ::-1])
        w.release()
    return audio, truth, video


def _live(*args):
    return start_live("--audio-device", "system", *args)


@pytest.mark.skipif(chromium_path() is None, reason="no chromium (Debian package chromium; `make system-deps`)")
@pytest.mark.slow  # real time
@pytest.mark.realtime
def test_a_jack_device_and_a_video_camera_show_the_source_at_its_pixel(scene, tmp_path):
    audio, truth, video = scene
    rec = tmp_path / "rec.h5"
    with jackrig.jack_server(SERVER), jackrig.jack_player(SERVER, jackrig.looping(audio)):
        proc, url = _live("--camera", video, "--band", "2000:5000", "--duration", 5, "--record", rec)
        with Chromium(url) as b:
            b.wait_for("acam.log.length > 12", 30)
            meta = b.eval("acam.freeze()")
            shot = b.screenshot((0, 0, 640, 480))
            b.eval("acam.resume()")
            b.wait_for("!acam.connected", 30, poll=0.2)
            log = b.eval("acam.log")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lut = np.array(colormap_lut())
    with open_session(rec) as s:
        assert s.closed_cleanly and s.n_samples == 5 * FS and s.metadata["capture_stats"]["dropped_blocks"] == 0
        k = int(np.searchsorted(s.frame_sample_index, meta["frame_sample"]))
        assert s.frame_sample_index[k] == meta["frame_sample"]  # the page showed a frame the file holds
        spot = hot_spot(shot, s.frame(k), lut)
    assert np.hypot(*(spot - truth)) < 20, (spot, truth)
    peaks = np.array([e["peak"] for e in log[5:]])
    assert np.mean(np.hypot(*(peaks - truth).T) < 20) > 0.9  # and so did (nearly) every picture
    shown = log[5:]
    fps = (len(shown) - 1) / ((shown[-1]["shown_wall"] - shown[0]["shown_wall"]) / 1000)
    assert fps >= 6, fps  # the camera file plays at 12 fps


@pytest.mark.slow  # real time
@pytest.mark.realtime
def test_a_device_that_disappears_ends_in_one_message_and_a_clean_file(scene, tmp_path):
    audio, _, video = scene
    rec = tmp_path / "lost.h5"
    with jackrig.jack_server(SERVER) as jackd, jackrig.jack_player(SERVER, jackrig.looping(audio)):
        proc, url = _live("--camera", video, "--record", rec)
        time.sleep(3.0)
        jackd.kill()  # the audio interface is gone, as if unplugged
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    lines = [x for x in err.strip().splitlines() if x.startswith("acam: error:")]
    assert len(lines) == 1 and "audio device 'system' stopped delivering audio after" in lines[0], err
    assert f"{rec} closed cleanly" in lines[0]
    with open_session(rec) as s:
        assert s.closed_cleanly and "stopped delivering audio" in s.stop_reason
        assert 1.5 * FS < s.n_samples < 4 * FS and s.n_frames > 10
