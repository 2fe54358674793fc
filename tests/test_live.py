"""Live capture through a real audio stack: a JACK server (dummy driver, 128 capture channels
at 12 kHz), PortAudio's JACK host API under sounddevice, and a JACK client playing a known
128-channel signal into PortAudio's input ports. No mocks."""

import os
import shutil
import subprocess
import threading
import time

import cv2
import numpy as np
import pytest

from acoustic_camera import open_session

from conftest import run_acam

FS = 12000
PERIOD = 65536  # sample values k/65536 - 0.5 are exact in float32


def expected(n, c):
    return ((n + 997 * c) % PERIOD) / PERIOD - 0.5


# One JACK server per test process, under its own name (pytest-xdist runs two workers, and each
# may run a live test): clients, PortAudio's among them, find it through JACK_DEFAULT_SERVER
SERVER = f"acam-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="module")
def jack_server():
    if shutil.which("jackd") is None:
        pytest.skip("jackd (Debian package jackd2) is not installed and could not be installed here")
    jack = pytest.importorskip("jack", reason="JACK-Client (pip) is missing")
    pytest.importorskip("sounddevice", reason="sounddevice / libportaudio2 missing")
    if not _no_jackd(within=10.0):  # a server this module started before may still be on its way out
        pytest.fail(f"a jackd server named {SERVER} is already running: stop it first, the tests start their own")
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = SERVER
    proc = subprocess.Popen(["jackd", "-n", SERVER, "--no-realtime", "-d", "dummy", "-r", str(FS), "-C", "128", "-P", "0",
                             "-p", "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    for _ in range(100):
        try:
            client = jack.Client("acam-probe", no_start_server=True, servername=SERVER)
            break
        except jack.JackError:
            time.sleep(0.1)
    if client is None:
        proc.kill()
        pytest.fail("jackd did not come up")
    client.close()
    yield proc
    proc.terminate()  # by its PID
    proc.wait(timeout=10)
    _no_jackd(within=10.0)
    if old is None:
        os.environ.pop("JACK_DEFAULT_SERVER", None)
    else:
        os.environ["JACK_DEFAULT_SERVER"] = old


def _no_jackd(within: float) -> bool:
    """True once no jackd of this process's name is left (waiting up to ``within`` seconds)."""
    end = time.monotonic() + within
    while subprocess.run(["pgrep", "-f", f"^jackd -n {SERVER} "], capture_output=True).returncode == 0:
        if time.monotonic() > end:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def player(jack_server):
    """Plays channel c, sample n = expected(n, c) into PortAudio's inputs as soon as they appear."""
    import jack

    client = jack.Client("acam-test-player", no_start_server=True, servername=SERVER)
    outs = [client.outports.register(f"out_{c}") for c in range(128)]
    pos = [0]
    cols = np.arange(128)

    @client.set_process_callback
    def process(frames):
        n = pos[0] + np.arange(frames)[:, None]
        block = (((n + 997 * cols[None, :]) % PERIOD) / PERIOD - 0.5).astype(np.float32)
        for c, port in enumerate(outs):
            port.get_array()[:] = block[:, c]
        pos[0] += frames

    stop = threading.Event()

    def connect_when_ready():
        done = set()
        while not stop.is_set():
            for p in client.get_ports("PortAudio:in_", is_input=True):
                c = int(p.name.rsplit("_", 1)[1])
                if p.name not in done and c < 128:
                    try:
                        client.connect(outs[c], p)
                        done.add(p.name)
                    except jack.JackError:
                        pass
            if len(done) == 128:
                done.clear()  # a new capture may come: keep watching
                time.sleep(0.05)
            time.sleep(0.01)

    client.activate()
    t = threading.Thread(target=connect_when_ready, daemon=True)
    t.start()
    yield client
    stop.set()
    t.join(timeout=2)
    client.deactivate()
    client.close()


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
