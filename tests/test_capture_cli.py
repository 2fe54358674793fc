"""`acam capture` / `acam info` as a user runs them: stopping by Ctrl-C, SIGTERM and SIGKILL
leaves a readable file with every flushed second; bad input gives one line and exit 2."""

import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from acoustic_camera import open_session
from acoustic_camera.array.geometry import preset
from acoustic_camera.sim.simulator import SimConfig, Simulator
from acoustic_camera.sim.trajectories import parse_sources

from conftest import ACAM, run_acam

SOURCES = "snapping@0.3,-0.1,3"
ARGS = ["--geometry", "uma16", "--scenario", "anechoic", "--sources", SOURCES, "--seed", "5", "--quiet"]


def _flushed_samples(path):
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            return f["time_data"].shape[0]
    except (OSError, KeyError):
        return 0


def _start_and_wait(path, seconds=3.0):
    proc = subprocess.Popen([*ACAM, "capture", "--out", str(path), "--duration", "600", *ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    seen = 0
    while time.time() < deadline and proc.poll() is None:
        seen = _flushed_samples(path)
        if seen >= seconds * 12000:
            return proc, seen
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"capture did not reach {seconds} s: {proc.communicate()}")


@pytest.mark.parametrize("sig, reason, code", [(signal.SIGINT, "SIGINT", 130), (signal.SIGTERM, "SIGTERM", 143)])
def test_ctrl_c_and_sigterm_close_cleanly(tmp_path, sig, reason, code):
    path = tmp_path / "s.h5"
    proc, seen = _start_and_wait(path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "closed cleanly" in err
    with open_session(path) as s:
        assert s.closed_cleanly and reason in s.stop_reason and not s.opened_after_crash
        assert s.n_samples >= seen
        # audio and video stop together: the last frame lies within the audio
        assert s.frame_sample_index[-1] < s.n_samples <= s.frame_sample_index[-1] + 12000


def test_sigkill_keeps_every_flushed_second(tmp_path):
    path = tmp_path / "s.h5"
    proc, seen = _start_and_wait(path)
    proc.kill()
    proc.wait(timeout=30)
    with open_session(path) as s:
        assert not s.closed_cleanly and s.opened_after_crash
        assert s.n_samples >= seen and s.n_frames >= seen // 1000
        n = s.n_samples
        got = s.audio()
    # the content is exactly what an uninterrupted simulation produces for those seconds
    cfg = SimConfig(scenario="anechoic", duration=n / 12000, sources=parse_sources(SOURCES), seed=5,
                    geometry=preset("uma16"))
    ref = np.concatenate([c.audio for c in Simulator(cfg).chunks()])
    np.testing.assert_array_equal(got, ref[:n])
    info = run_acam("info", path)
    assert "NOT cleanly" in info.stdout


def test_capture_summary_info_and_refusals(tmp_path):
    path = tmp_path / "s.h5"
    r = run_acam("capture", "--out", path, "--duration", "1.5", "--rate", "12288", *ARGS)
    assert "wrote" in r.stdout and "x real time" in r.stdout
    with open_session(path) as s:
        assert s.sample_freq == 12288 and s.n_samples == round(1.5 * 12288)
        np.testing.assert_array_equal(s.frame_sample_index, np.arange(18) * 1024)  # 1024 samples per frame
    info = run_acam("info", path).stdout
    for text in ("cleanly", "12288 Hz", "18 frames 640x480", "snapping", "uma16"):
        assert text in info
    again = run_acam("capture", "--out", path, "--duration", "1", *ARGS, check=False)
    assert again.returncode == 2 and again.stderr.strip().count("\n") == 0 and "file exists" in again.stderr


def test_every_command_has_help(capsys):
    from acoustic_camera.cli import main

    for cmd in ([], ["capture"], ["info"], ["array"], ["array", "design"], ["beamform"], ["render"], ["plot", "array"],
                ["plot", "spectrum"], ["devices"], ["import", "dualcam"], ["import", "dualcam-mfcc"], ["train"], ["evaluate"],
                ["features"]):
        assert main.main(args=cmd + ["--help"], prog_name="acam") == 0, cmd
        assert "Usage:" in capsys.readouterr().out, cmd


def test_info_on_bad_file_is_one_line(tmp_path):
    p = tmp_path / "x.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    r = run_acam("info", p, check=False)
    assert r.returncode == 2 and r.stderr.startswith("acam: error:") and r.stderr.strip().count("\n") == 0


def test_core_commands_do_not_import_the_extras(tmp_path):
    """capture, beamform, render and info never load torch, sklearn or sounddevice; CuPy only
    where a GPU is usable (``--backend auto`` then picks it). The core-only install is tested
    for real in test_wheel.py."""
    code = (
        "import sys, runpy\n"
        "from acoustic_camera.kernels.base import gpu_available\n"
        "gpu = gpu_available()\n"
        "for argv in (['acam','capture','--out',sys.argv[1],'--duration','0.5','--quiet','--geometry','uma16'],\n"
        "             ['acam','beamform',sys.argv[1],'--quiet'], ['acam','info',sys.argv[1]],\n"
        "             ['acam','render',sys.argv[1],'--png',sys.argv[1] + '.png','--quiet']):\n"
        "    sys.argv = argv\n"
        "    try:\n        runpy.run_module('acoustic_camera', run_name='__main__')\n    except SystemExit as e:\n"
        "        assert not e.code, (argv, e.code)\n"
        "bad=[m for m in ('torch','torchvision','sklearn','sounddevice') + (() if gpu else ('cupy',)) if m in sys.modules]\n"
        "assert not bad, bad\nprint('clean')"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.h5")], capture_output=True, text=True)
    assert r.returncode == 0 and "clean" in r.stdout, r.stderr
