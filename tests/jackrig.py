"""A real audio stack for the live tests: a JACK server (dummy driver, 128 capture channels at
12 kHz), and a JACK client playing a known 128-channel signal into PortAudio's input ports as
soon as they appear (PortAudio's JACK host API under sounddevice is the code under test)."""

import os
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

FS = 12000


def server_name(tag: str) -> str:
    # one server per test process and module (pytest-xdist runs two workers, and each may run a
    # live test); clients, PortAudio's among them, find it through JACK_DEFAULT_SERVER
    return f"acam-{tag}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def no_jackd(name: str, within: float) -> bool:
    """True once no jackd of this name is left (waiting up to ``within`` seconds)."""
    end = time.monotonic() + within
    while subprocess.run(["pgrep", "-f", f"^jackd -n {name} "], capture_output=True).returncode == 0:
        if time.monotonic() > end:
            return False
        time.sleep(0.2)
    return True


@contextmanager
def jack_server(name: str):
    """A running jackd named ``name``, JACK_DEFAULT_SERVER pointing at it; yields the process."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd (Debian package jackd2) is not installed and could not be installed here")
    jack = pytest.importorskip("jack", reason="JACK-Client (pip) is missing")
    pytest.importorskip("sounddevice", reason="sounddevice / libportaudio2 missing")
    if not no_jackd(name, within=10.0):  # a server started before may still be on its way out
        pytest.fail(f"a jackd server named {name} is already running: stop it first, the tests start their own")
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(FS), "-C", "128", "-P", "0",
                             "-p", "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    for _ in range(100):
        try:
            client = jack.Client("acam-probe", no_start_server=True, servername=name)
            break
        except jack.JackError:
            time.sleep(0.1)
    if client is None:
        proc.kill()
        pytest.fail("jackd did not come up")
    client.close()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()  # by its PID
            proc.wait(timeout=10)
        no_jackd(name, within=10.0)
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old


@contextmanager
def jack_player(name: str, block_at):
    """A client playing ``block_at(n0, frames)`` -> (frames, 128) float32 (samples n0 ..) into
    PortAudio's inputs, connecting to each capture's ports as they appear."""
    import jack

    client = jack.Client("acam-test-player", no_start_server=True, servername=name)
    outs = [client.outports.register(f"out_{c}") for c in range(128)]
    pos = [0]

    @client.set_process_callback
    def process(frames):
        block = block_at(pos[0], frames)
        for c, port in enumerate(outs):
            port.get_array()[:] = block[:, c]
        pos[0] += frames

    stop = threading.Event()

    def connect_when_ready():
        done = set()
        while not stop.is_set():
            try:
                ports = client.get_ports("PortAudio:in_", is_input=True)
            except jack.JackError:
                return  # the server has gone
            for p in ports:
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
    try:
        yield client
    finally:
        stop.set()
        t.join(timeout=2)
        try:
            client.deactivate()
            client.close()
        except Exception:  # the server may be gone (the device-lost test kills it)
            pass


def looping(audio: np.ndarray):
    """``block_at`` for a recording played in a loop."""
    audio = np.ascontiguousarray(audio, np.float32)

    def block_at(n0, frames):
        idx = (n0 + np.arange(frames)) % len(audio)
        return audio[idx]

    return block_at
