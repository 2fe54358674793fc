"""Overlays and plots a person looks at: decoded back and checked for the physics."""

import cv2
import numpy as np
import pytest

from acoustic_camera import AcamError
from acoustic_camera.beamform.pipeline import beamform_session
from acoustic_camera.view.render import RenderOptions, colorize, overlay_frame, render
from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
from acoustic_camera.sim.trajectories import SourceSpec

from conftest import run_acam


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("render")
    p = d / "s.h5"
    cfg = SimConfig(scenario="anechoic", duration=1.5, seed=11,
                    sources=(SourceSpec("paper_ripping", motion="walk"),))
    simulate_to_file(cfg, p)
    beamform_session(p, features=("volumes", "mfcc", "energy"), backend="numba")
    return p


def _hot_spot(rgb_overlay, rgb_frame, alpha=RenderOptions().alpha):
    """Centre of the region drawn in the top colour of the scale (blended over the frame)."""
    top = cv2.applyColorMap(np.array([[255]], np.uint8), cv2.COLORMAP_INFERNO)[0, 0, ::-1].astype(float)
    expected = rgb_frame * (1 - alpha) + top * alpha
    hot = np.linalg.norm(rgb_overlay.astype(float) - expected, axis=-1) < 25
    ys, xs = np.nonzero(hot)
    assert len(xs) > 20
    return np.median(xs), np.median(ys)


def test_mp4_decodes_with_the_sessions_frames_and_source_at_its_pixel(sim, tmp_path):
    out = tmp_path / "o.mp4"
    r = render(sim, out=out, opts=RenderOptions(colorbar=False))
    assert r["energy_from"] == "volumes"  # found s.acoustic.h5 beside the session
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f[:, :, ::-1])
    assert len(frames) == 18 and frames[0].shape == (480, 640, 3)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
    from acoustic_camera import open_session

    with open_session(sim) as s:
        checked = np.flatnonzero(s.truth.active[:, 0] & s.truth.visible[:, 0])
        assert len(checked) >= 8, checked  # paper ripping sounds in most frames
        for k in checked:
            u, v = _hot_spot(frames[k], s.frame(k))
            tu, tv = s.truth.pixel[k, 0]
            # within one acoustic pixel (13.3 video pixels) plus codec blur
            assert abs(u - tu) < 20 and abs(v - tv) < 20, (k, (u, v), (tu, tv))


def test_png_side_by_side_and_truth_marker(sim, tmp_path):
    png = tmp_path / "f.png"
    run_acam("render", sim, "--png", png, "--frame", 9, "--side-by-side", "--truth", "--range", "15", "--quiet")
    img = cv2.imread(str(png))[:, :, ::-1]
    assert img.shape == (480, 1920, 3)
    from acoustic_camera import open_session

    with open_session(sim) as s:
        np.testing.assert_array_equal(img[:, :640], s.frame(9))  # the untouched video on the left
        u, v = np.round(s.truth.pixel[9, 0]).astype(int)
    right = img[:, 1280:]
    patch = right[v - 6:v + 7, u - 6:u + 7].reshape(-1, 3).astype(int)
    assert np.any((patch[:, 1] > 200) & (patch[:, 0] < 80) & (patch[:, 2] < 80))  # green marker


def test_transparent_below_the_floor_and_colour_bar():
    e = np.full((36, 48), -40.0, np.float32)
    e[18, 24] = -10.0
    rgb, alpha = colorize(e, (640, 480), top=-10.0, opts=RenderOptions(dynamic_range_db=12))
    assert alpha[0, 0] == 0 and alpha[int(18.5 * 480 / 36), int(24.5 * 640 / 48)] > 0.5
    frame = np.full((480, 640, 3), 90, np.uint8)
    out = overlay_frame(frame, e, -10.0, RenderOptions())
    assert np.array_equal(out[:100, :100], frame[:100, :100])  # far from the source: untouched
    assert (out[:, 560:600] != 90).any()  # colour bar drawn at the right


def test_render_errors(sim, tmp_path):
    with pytest.raises(AcamError, match="nothing to render"):
        render(sim)
    with pytest.raises(AcamError, match="frames 0..17"):
        render(sim, png=tmp_path / "x.png", frame=99)
    with pytest.raises(AcamError, match="missing.h5: no such file .expected an acam acoustic-image file"):
        render(sim, png=tmp_path / "x.png", acoustic=tmp_path / "missing.h5")
    r = run_acam("render", sim, "--png", tmp_path / "x.png", "--band", "a:b", check=False)
    assert r.returncode == 2 and "--band" in r.stderr


@pytest.mark.slow
def test_plots_are_made_headless_and_non_trivial(sim, tmp_path):
    run_acam("plot", "array", "--geometry", "uma16", "--freqs", "2000,4000", "--out", tmp_path / "a.png")
    run_acam("plot", "spectrum", sim, "--truth", "--out", tmp_path / "s.png")
    run_acam("plot", "spectrum", sim, "--pixel", "18,24", "--out", tmp_path / "p.svg")
    for name in ("a.png", "s.png"):
        img = cv2.imread(str(tmp_path / name))
        assert img is not None and img.shape[0] > 200 and img.shape[1] > 400
        assert img.std() > 20 and len(np.unique(img.reshape(-1, 3), axis=0)) > 100
    assert (tmp_path / "p.svg").read_text().startswith("<?xml")
    r = run_acam("plot", "spectrum", sim, "--pixel", "99,1", "--out", tmp_path / "q.png", check=False)
    assert r.returncode == 2 and "rows 0..35" in r.stderr
