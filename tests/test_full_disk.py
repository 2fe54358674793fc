"""A full disk (ENOSPC) under every writer (issue 28): one line on stderr naming the file and
'no space', exit status 2, no traceback and no crash, and nothing under the final name; a
capture keeps what it flushed as NAME.partial.h5, which `acam info` opens. The disks are small
tmpfs mounts (root only: skipped elsewhere). Also the writers' guards against non-finite data."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import run_acam

# real file systems filled up, every writer: `make test` runs them, the fast loop does not
pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size, free=None, readonly=False)``: a fresh tmpfs of ``size`` ('3m') mounted in
    tmp_path, with a filler file leaving ``free`` bytes when given; unmounted afterwards."""
    mounts = []

    def make(size: str, free: int | None = None, readonly: bool = False) -> Path:
        d = tmp_path / f"disk{len(mounts)}"
        d.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        try:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True,
                               text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"a full disk needs a tmpfs mount, which failed here: {exc}")
        if r.returncode != 0:
            pytest.skip(f"a full disk needs a tmpfs mount (root), which failed here: {r.stderr.strip()}")
        mounts.append(d)
        if free is not None:
            st = os.statvfs(d)
            fill = st.f_bavail * st.f_frsize - free
            with open(d / "filler", "wb") as f:
                try:
                    f.write(b"\0" * max(fill, 0))
                    f.flush()
                except OSError:
                    pass
        return d

    yield make
    for d in reversed(mounts):
        if subprocess.run(["umount", str(d)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A 2-s simulated session on the ordinary disk, and its acoustic file."""
    d = tmp_path_factory.mktemp("full_disk")
    s = d / "s.h5"
    run_acam("capture", "--out", s, "--duration", 2, "--geometry", "uma16", "--quiet")
    run_acam("beamform", s, "--quiet")
    return s


def one_line_no_space(r, final: Path):
    """Exit status 2 and exactly one stderr line, ``acam: error: FINAL: no space ...``."""
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert len(lines) == 1, r.stderr[-3000:]
    assert lines[0].startswith(f"acam: error: {final}: ") and "no space" in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    return lines[0]


def outputs(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name != "filler")


# -- capture -------------------------------------------------------------------------------
def test_capture_on_a_full_disk_keeps_nothing(small_disk):
    for disk in (small_disk("3m", free=0), small_disk("3m")):
        r = run_acam("capture", "--out", disk / "s.h5", "--duration", 1, "--geometry", "uma16", "--quiet", check=False)
        line = one_line_no_space(r, disk / "s.h5")
        assert "no file is kept" in line
        assert outputs(disk) == []


def test_capture_keeps_the_flushed_seconds_as_partial(small_disk):
    disk = small_disk("20m")  # one or two of the three seconds fit (video frames ~6 MB a second)
    r = run_acam("capture", "--out", disk / "s.h5", "--duration", 3, "--geometry", "uma16", "--quiet", check=False)
    line = one_line_no_space(r, disk / "s.h5")
    assert outputs(disk) == ["s.partial.h5"]
    kept = disk / "s.partial.h5"
    assert line.endswith(f"s flushed are kept in {kept}") and "disk full after" in line
    seconds = float(line.split("; the ")[1].split(" s flushed")[0])
    assert seconds >= 1.0
    info = run_acam("info", kept, check=False)
    assert info.returncode == 0, info.stderr
    from acoustic_camera import open_session

    with open_session(kept) as s:  # every flushed second reads back
        assert s.n_samples == round(seconds * s.sample_freq) and s.n_frames == round(seconds * s.video_fps)
        assert np.isfinite(s.audio()).all() and np.abs(s.audio()).max() > 0
        assert s.frames(0, s.n_frames).shape == (s.n_frames, s.camera.height, s.camera.width, 3)


def _without_room_checks(*args) -> subprocess.CompletedProcess:
    """acam with the writers' disk-space claims off: HDF5 meets the full disk itself."""
    code = textwrap.dedent("""
        import sys
        from acoustic_camera.io.room import Room
        Room._fallocate = False
        from acoustic_camera.cli import main
        main(sys.argv[1:])
    """)
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))


def test_hdf5_meeting_the_full_disk_itself_is_one_line_too(small_disk, session):
    # the fallback when the space claims cannot help (an I/O error, another writer racing): no crash
    disk = small_disk("9m")
    r = _without_room_checks("capture", "--out", disk / "s.h5", "--duration", 2, "--geometry", "uma16", "--quiet")
    line = one_line_no_space(r, disk / "s.h5")
    if outputs(disk):
        assert outputs(disk) == ["s.partial.h5"] and "flushed are kept" in line
        assert run_acam("info", disk / "s.partial.h5", check=False).returncode == 0
    disk = small_disk("200k")
    r = _without_room_checks("beamform", session, "--out", disk / "a.h5", "--quiet")
    one_line_no_space(r, disk / "a.h5")
    assert outputs(disk) == []


# -- beamform, render, listen, import --------------------------------------------------------
def test_beamform_on_a_full_disk(small_disk, session):
    for disk in (small_disk("1m", free=0), small_disk("1m")):
        r = run_acam("beamform", session, "--out", disk / "a.h5", "--quiet", check=False)
        one_line_no_space(r, disk / "a.h5")
        assert outputs(disk) == []


def test_render_mp4_on_a_full_disk(small_disk, session):
    disk = small_disk("3m", free=100_000)  # ffmpeg fails writing frames, or its trailer
    r = run_acam("render", session, "--out", disk / "o.mp4", "--quiet", check=False)
    one_line_no_space(r, disk / "o.mp4")
    assert outputs(disk) == []


def test_render_png_on_a_full_disk(small_disk, session):
    disk = small_disk("3m", free=20_000)
    r = run_acam("render", session, "--frame", 3, "--png", disk / "f.png", "--quiet", check=False)
    line = one_line_no_space(r, disk / "f.png")
    assert "format" not in line  # a full disk, not the picture format
    assert outputs(disk) == []


def test_render_png_refuses_an_unknown_extension_before_any_work(tmp_path):
    # the session does not even exist: the extension is refused first
    r = run_acam("render", tmp_path / "none.h5", "--png", tmp_path / "r.txt", "--quiet", check=False)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"acam: error: {tmp_path / 'r.txt'}: ") and "'.txt'" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_listen_on_a_full_disk(small_disk, session):
    disk = small_disk("3m", free=16_000)
    r = run_acam("listen", session, "--truth", "--out", disk / "x.wav", "--quiet", check=False)
    one_line_no_space(r, disk / "x.wav")
    assert outputs(disk) == []


def test_import_dualcam_on_a_full_disk(small_disk, tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    y, x = np.mgrid[0:480, 0:640]
    for k in range(4):
        (np.arange(128 * 1024, dtype="<i4") + k).tofile(dump / f"A_{k:06d}.dc")
        img = np.stack([x % 256, y % 256, np.full_like(x, 40 * k)], -1).astype(np.uint8)
        assert cv2.imwrite(str(dump / f"I_{k:06d}.bmp"), img)
    for disk in (small_disk("1m", free=0), small_disk("1m")):
        r = run_acam("import", "dualcam", dump, "--out", disk / "d.h5", "--quiet", check=False)
        one_line_no_space(r, disk / "d.h5")
        assert outputs(disk) == []


def test_a_read_only_disk_is_one_line_naming_the_file(small_disk, session):
    disk = small_disk("1m", readonly=True)
    for args, name in ((("capture", "--out", "{d}/s.h5", "--duration", 1, "--geometry", "uma16"), "s.h5"),
                       (("render", session, "--png", "{d}/f.png"), "f.png"),
                       (("listen", session, "--truth", "--out", "{d}/x.wav"), "x.wav")):
        r = run_acam(*(str(a).format(d=disk) for a in args), "--quiet", check=False)
        assert r.returncode == 2 and r.stderr.splitlines() == [r.stderr.strip()], r.stderr[-2000:]
        assert r.stderr.startswith(f"acam: error: {disk / name}: read-only file system"), r.stderr
    assert outputs(disk) == []


# -- the guards against non-finite data ------------------------------------------------------
def test_acoustic_writer_refuses_non_finite_frames(session, tmp_path):
    from acoustic_camera import AcamError, open_session
    from acoustic_camera.array.grid import make_grid
    from acoustic_camera.io.acoustic import AcousticWriter
    from acoustic_camera.io.atomic import atomic_output

    out = tmp_path / "a.acoustic.h5"
    with open_session(session) as s:
        grid = make_grid(s.camera, (6, 8))
        e = np.zeros((4, 6, 8), np.float32)
        e[2, 1, 1] = np.nan
        with pytest.raises(AcamError) as err:
            with atomic_output(out) as tmp:
                with AcousticWriter(tmp, session=s, grid=grid, freqs=np.arange(4.0), params={},
                                    features=("energy", "volumes"), dtype="float16") as w:
                    w.write(0, energy=np.zeros((4, 6, 8)))
                    w.write(4, energy=e)
        msg = str(err.value)
        assert msg.startswith(f"{out}: /energy_db frames 4..7: ") and "NaN or infinite" in msg and "frame 6" in msg
        with pytest.raises(AcamError, match=r"/volumes frames 0\.\.1: .*beyond float16's range"):
            with atomic_output(out) as tmp:
                with AcousticWriter(tmp, session=s, grid=grid, freqs=np.arange(4.0), params={},
                                    features=("volumes",), dtype="float16") as w:
                    w.write(0, volumes=np.full((2, 6, 8, 4), 1e6))
    assert list(tmp_path.iterdir()) == []


def test_wav_writer_refuses_non_finite_samples(tmp_path):
    from acoustic_camera import AcamError
    from acoustic_camera.beamform.listen import write_wav

    x = np.zeros(1200, np.float32)
    x[600] = np.inf
    with pytest.raises(AcamError, match=r"x\.wav: expected finite samples, found 1 .* sample 600 \(0\.050 s\)"):
        write_wav(tmp_path / "x.wav", x, 12000)
    assert list(tmp_path.iterdir()) == []


def test_overlay_writer_refuses_a_non_finite_map(session, tmp_path, monkeypatch):
    from acoustic_camera import AcamError
    from acoustic_camera.view import render as R

    frames = R.EnergySource.frames

    def with_nan(self, indices=None):
        for k, m in frames(self, indices):
            m = m.copy()
            if k == 2:
                m[0, 0] = np.nan
            yield k, m

    monkeypatch.setattr(R.EnergySource, "frames", with_nan)
    with pytest.raises(AcamError, match=r"f\.png: frame 2: expected a finite acoustic map, found 1 NaN"):
        R.render(session, png=tmp_path / "f.png", frame=2)
    with pytest.raises(AcamError, match=r"o\.mp4: frame 2: expected a finite acoustic map"):
        R.render(session, out=tmp_path / "o.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_clean_capture_leaves_no_claimed_space(small_disk):
    # the space claimed ahead of the writes is given back: the file uses what it holds
    disk = small_disk("64m")
    run_acam("capture", "--out", disk / "s.h5", "--duration", 1, "--geometry", "uma16", "--quiet")
    st = os.stat(disk / "s.h5")
    assert st.st_blocks * 512 <= st.st_size + 4096
    assert run_acam("info", disk / "s.h5").stdout.count("closed:      cleanly") == 1
