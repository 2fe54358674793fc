"""Live capture through a real audio stack: a JACK server (dummy driver, 128 capture channels
at 12 kHz), PortAudio's JACK host API under sounddevice, and a JACK client playing a known
128-channel signal into PortAudio's input ports. No mocks."""

import cv2
import numpy as np
import pytest

from acoustic_camera import open_session

import jackrig
from conftest import run_acam
from jackrig import FS, server_name

PERIOD = 65536  # sample values k/65536 - 0.5 are exact in float32


def expected(n, c):
    return ((n + 997 * c) % PERIOD) / PERIOD - 0.5


SERVER = server_name("test")


@pytest.fixture(scope="module")
def jack_server():
    with jackrig.jack_server(SERVER) as proc:
        yield proc


def _ramp(n0, frames):
    n = n0 + np.arange(frames)[:, None]
    return (((n + 997 * np.arange(128)[None, :]) % PERIOD) / PERIOD - 0.5).astype(np.float32)


@pytest.fixture
def player(jack_server):
    """Plays channel c, sample n = expected(n, c) into PortAudio's inputs as soon as they appear."""
    with jackrig.jack_player(SERVER, _ramp) as client:
        yield client


def _check_exact(audio, start=0, stop=None):
    """Each channel, after its first non-silent sample, equals the played signal at one
    constant offset shared by all channels; returns (offset, first sample checked)."""
    stop = len(audio) if stop is None else stop
    firsts = [int(np.flatnonzero(audio[start:stop, c])[0]) + start for c in range(audio.shape[1])]
    i0 = max(firsts)
    v = audio[i0, 0]
    offset = (int(round((v + 0.5) * PERIOD)) - i0) % PERIOD
    n = np.arange(i0, stop)[:, None]
    want = expected(n + offset, np.arange(audio.shape[1])[None, :]).astype(np.float32)
    mismatch = np.argwhere(audio[i0:stop] != want)
    assert len(mismatch) == 0, f"first mismatch at sample {i0 + mismatch[0][0]}, channel {mismatch[0][1]}"
    return offset, i0


@pytest.mark.slow  # records in real time
@pytest.mark.realtime
def test_128_channels_arrive_in_order_sample_exact_without_drops(player, tmp_path):
    out = tmp_path / "live.h5"
    r = run_acam("capture", "--out", out, "--audio-device", "system", "--channels", 128, "--rate", FS,
                 "--duration", 11.5, "--quiet")
    assert "dropped blocks 0" in r.stdout and "input overflows 0" in r.stdout
    with open_session(out) as s:
        assert s.closed_cleanly and s.sample_freq == FS and s.n_channels == 128
        assert s.n_samples == round(11.5 * FS) and len(s.audio_gaps) == 0
        assert s.metadata["capture_stats"]["dropped_blocks"] == 0
        audio = s.audio()
    offset, i0 = _check_exact(audio)
    assert len(audio) - i0 >= 10 * FS  # at least 10 s checked sample by sample


@pytest.mark.slow  # records in real time
@pytest.mark.realtime
def test_stalled_writer_becomes_a_gap_of_the_right_length(player, tmp_path):
    out = tmp_path / "gap.h5"
    r = run_acam("capture", "--out", out, "--audio-device", "system", "--duration", 6, "--ring-seconds", 0.5,
                 "--debug-stall-writer", "2,1.5", "--quiet")
    with open_session(out) as s:
        gaps = s.audio_gaps
        audio = s.audio()
        stats = s.metadata["capture_stats"]
    assert len(gaps) == 1 and stats["dropped_blocks"] > 0 and "dropped blocks 0 " not in r.stdout
    g0, n = int(gaps[0][0]), int(gaps[0][1])
    assert n % 1024 == 0 and n >= 0.5 * FS  # whole blocks, about the stall minus the ring
    assert not audio[g0:g0 + n].any()  # zero-filled in place
    # before and after the gap the signal runs at the same offset: the gap holds exactly the lost samples
    off_before, _ = _check_exact(audio, 0, g0)
    off_after, _ = _check_exact(audio, g0 + n)
    assert off_before == off_after
    assert f"+{n} samples" in run_acam("info", out).stdout


@pytest.mark.slow  # records in real time
@pytest.mark.realtime
def test_camera_from_a_video_file_is_stamped_on_the_audio_clock(player, tmp_path):
    video = tmp_path / "cam.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 12, (320, 240))
    for k in range(60):
        w.write(np.full((240, 320, 3), (k * 4) % 256, np.uint8))
    w.release()
    out = tmp_path / "cam.h5"
    r = run_acam("capture", "--out", out, "--audio-device", "system", "--camera", video, "--duration", 3, "--quiet")
    with open_session(out) as s:
        fsi = s.frame_sample_index
        assert s.camera.width == 320 and s.camera.height == 240
        assert 30 <= s.n_frames <= 37, s.n_frames  # 12 fps for 3 s
        assert np.all(np.diff(fsi) > 0) and fsi[0] < 0.2 * FS and fsi[-1] < s.n_samples
        # frames arrive every 1/12 s on the audio clock (1000 samples), within scheduling jitter
        assert abs(np.median(np.diff(fsi)) - 1000) < 100
        drift = s.metadata["capture_stats"]["drift_ppm"]
        assert drift is not None and abs(drift) < 50_000
        assert s.frame(5)[0, 0, 0] == pytest.approx(20, abs=3)  # frame 5 of the file
    assert "camera clock drift" in r.stdout


def test_clear_errors_for_device_channels_and_geometry(jack_server, tmp_path):
    for args, msg in (
        (["--audio-device", "no-such-card"], "audio device 'no-such-card' not found; input devices: 0: system"),
        (["--audio-device", "system", "--geometry", "uma16", "--channels", "128"], "has 16 microphones but 128 channels"),
        (["--audio-device", "system", "--rate", "48000"], "cannot deliver 128 channels at 48000 Hz"),
    ):
        r = run_acam("capture", "--out", tmp_path / "x.h5", *args, "--duration", "1", check=False)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
        assert not (tmp_path / "x.h5").exists()
