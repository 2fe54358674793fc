"""The built wheel installs one namespace: acoustic_camera, with kernels/calibration/models
inside it and no generic top-level package (`models`, `kernels`) in site-packages."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

SUBPACKAGES = ("array", "io", "sim", "beamform", "view", "cli", "kernels", "calibration", "models")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out), str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("acoustic_camera-*.whl")
    return whl


def test_wheel_holds_one_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"acoustic_camera"}
    for sub in SUBPACKAGES:
        assert f"acoustic_camera/{sub}/__init__.py" in names
    assert "acoustic_camera/data/dualcam128.xml" in names and "acoustic_camera/data/uma16.xml" in names
    assert "acoustic_camera/view/live/page.html" in names  # the live view's page, package data
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert "acam = acoustic_camera.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()


def test_installed_wheel_imports_subpackages(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies come from this environment, appended after the wheel's own site-packages
    # (a plain path line: this environment's .pth files, e.g. the editable install, are not run)
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "import importlib, acoustic_camera as a\n"
        "import acoustic_camera.kernels, acoustic_camera.calibration, acoustic_camera.models\n"
        f"assert a.__file__.startswith({site!r}), a.__file__\n"
        "for m in ('kernels', 'calibration', 'models'):\n"
        f"    assert importlib.import_module('acoustic_camera.' + m).__file__.startswith({site!r})\n"
        "    try:\n        importlib.import_module(m)\n    except ImportError:\n        pass\n"
        "    else:\n        raise SystemExit('top-level ' + m + ' is importable')\n"
        "assert a.preset('dualcam128').n_mics == 128\n"
        "print('ok')\n"
    )
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert not any((Path(site) / n).exists() for n in SUBPACKAGES)


CORE_ONLY_SCRIPT = r"""
set -e
acam capture --out s.h5 --duration 2 --quiet
acam beamform s.h5 --quiet
acam render s.h5 --png f.png --frame 12 --truth --quiet
acam info s.h5
acam live --simulated --duration 1 --port 0 2> live.err && exit 1 || test $? -eq 2
"""


@pytest.mark.slow
def test_core_install_runs_the_main_job(wheel, tmp_path):
    """What a newcomer's first commands need, from the wheel and its core dependencies only:
    capture -> beamform -> render -> info in a fresh venv without any extra."""
    import cv2

    from acoustic_camera import open_acoustic, open_session

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-3000:]
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True).stdout.lower()
    extras = [m for m in ("torch", "torchvision", "scikit-learn", "cupy", "sounddevice", "acoular", "pytest", "starlette",
                          "uvicorn")
              if f"\n{m}==" in "\n" + listed]
    assert not extras, f"the core install brought extras: {extras}"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(["bash", "-c", CORE_ONLY_SCRIPT], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "wrote s.h5: 2.00 s, 24000 samples x 128 channels" in r.stdout
    assert "wrote s.acoustic.h5: 24 frames" in r.stdout and "wrote f.png" in r.stdout
    assert "closed:      cleanly" in r.stdout and "video:       24 frames 640x480 at 12 fps" in r.stdout
    # the live view's web server is an extra: without it, one line that says which
    err = (work / "live.err").read_text()
    assert err.count("\n") == 1 and "acam live needs its web server (pip install 'acoustic-camera[live]')" in err, err
    with open_session(work / "s.h5") as s, open_acoustic(work / "s.acoustic.h5", s) as a:
        assert a.features == ("mfcc", "energy") and a.mfcc.shape == (24, 36, 48, 12)
        assert a.session_sha256 == s.time_data_sha256()
        frame = s.frame(12)
    img = cv2.imread(str(work / "f.png"))[:, :, ::-1]
    assert img.shape == (480, 640, 3) and (img != frame).any(axis=-1).mean() > 0.01  # the overlay is drawn
