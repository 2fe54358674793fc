"""Microphone calibration on the simulated non-ideal DualCam: every injected fault found with its
reason and no healthy microphone flagged, gains and phases recovered, and the calibrated image
as sharp as the ideal array's where the uncalibrated one is not; the calibration file's reader
and the CLI keep the error contract."""

import json

import h5py
import numpy as np
import pytest

from acoustic_camera import AcamError, preset
from acoustic_camera.beamform.pipeline import beamform_session
from acoustic_camera.calibration.microphones import calibrate_microphones
from acoustic_camera.constants import SPEED_OF_SOUND
from acoustic_camera.io.calibration import (Calibration, CalibrationFormatError, MicCalibration, load_calibration,
                                            write_calibration)
from acoustic_camera.sim.imperfections import ArrayErrors
from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
from acoustic_camera.sim.trajectories import SourceSpec

CAL_SOURCE = (1.2, 0.4, 2.5)  # ~27 degrees off axis: swapped channels show as delays
TEST_SOURCE = (-0.7, -0.35, 2.2)
FAULTS = {5: "dead", 9: "stuck", 20: "clipping", 33: "noisy", 47: "inverted", 60: "swapped", 100: "swapped"}
ERRORS = ArrayErrors.random(128, seed=1, dead=(5,), stuck=(9,), clipping=(20,), noisy=(33,), inverted=(47,),
                            swapped=((60, 100),))


def _session(path, position, errors, seconds=2.0):
    simulate_to_file(SimConfig(duration=seconds, seed=3, sources=(SourceSpec("noise", position=position),),
                               array_errors=errors), path)
    return path


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    d = tmp_path_factory.mktemp("rig")
    cal = calibrate_microphones(_session(d / "cal.h5", CAL_SOURCE, ERRORS), CAL_SOURCE)
    path = write_calibration(d / "cal.json", cal)
    return {"dir": d, "cal": load_calibration(path), "path": path}


def _normalised(g):
    return g / (np.median(np.abs(g), axis=0, keepdims=True) * np.exp(1j * np.angle(np.sum(g / np.abs(g), axis=0, keepdims=True))))


def test_every_fault_found_with_its_reason_and_no_healthy_microphone_flagged(rig):
    mc = rig["cal"].microphones
    assert {f.mic: f.fault for f in mc.faults} == FAULTS
    assert mc.excluded == [5, 9, 20, 33, 60, 100]  # the inverted one is kept: its gain carries the sign
    swapped = {f.mic: f.detail for f in mc.faults if f.fault == "swapped"}
    assert "microphone 100's signal" in swapped[60] and "microphone 60's signal" in swapped[100]


def test_gains_and_phases_recovered_from_1_to_5_khz(rig):
    """Truth: each capsule's gain and delay, and its position error seen from the calibration
    source (calibration is relative to the nominal array model), up to one common factor."""
    mc = rig["cal"].microphones
    geom = preset("dualcam128")
    src = np.array(CAL_SOURCE)
    r_nom = np.linalg.norm(geom.positions - src, axis=1)
    r_true = np.linalg.norm(ERRORS.positions(geom.positions) - src, axis=1)
    sel = (mc.freqs >= 1000) & (mc.freqs <= 5000)
    f = mc.freqs[sel][:, None]
    truth = (ERRORS.gains(128) * np.exp(-2j * np.pi * f * ERRORS.delays(128)) * (r_nom / r_true)
             * np.exp(-2j * np.pi * f * (r_true - r_nom) / SPEED_OF_SOUND))  # (F, M)
    truth[:, 47] *= -1
    keep = [m for m in range(128) if m not in mc.excluded]
    est, tru = _normalised(mc.gains[keep][:, sel].T), _normalised(truth[:, keep])
    db = np.abs(20 * np.log10(np.abs(est) / np.abs(tru)))
    deg = np.abs(np.degrees(np.angle(est / tru)))
    print(f"gain error max {db.max():.3f} dB, phase error max {deg.max():.2f} deg")
    assert db.max() < 0.3 and deg.max() < 3.0


def _map(session, out, calibration=None, band=(4000.0, 5000.0)):
    beamform_session(session, out, features=("energy",), band=band, calibration=calibration, backend="numba")
    with h5py.File(out) as f:
        e = f["energy_db"][2:-2]  # frames whose windows lie inside the recording
    return 10 * np.log10(np.mean(10 ** (e / 10), axis=0))


def _psl(maps, peak):
    """Peak sidelobe level (dB below each map's value at ``peak``) outside the main lobe, whose
    radius (cells, Chebyshev distance) is the ideal map's first null: where the largest value on
    the ring around the peak first rises again."""
    ideal = maps["ideal"]
    i, j = np.indices(ideal.shape)
    r = np.maximum(abs(i - peak[0]), abs(j - peak[1]))
    ring = [ideal[r == k].max() for k in range(r.max() + 1)]
    null = next(k for k in range(1, len(ring) - 1) if ring[k + 1] > ring[k])
    return {k: float(m[peak] - m[r > null].max()) for k, m in maps.items()}, null


def _compare(d, errors, calibration):
    faulty = _session(d / "faulty.h5", TEST_SOURCE, errors)
    ideal = d.parent / "ideal.h5"
    if not ideal.exists():
        _session(ideal, TEST_SOURCE, None)
    # the ideal array without the microphones calibration excludes: the best any calibration
    # of this board can give
    mc = load_calibration(calibration).microphones
    same = Calibration(MicCalibration(mc.freqs, np.ones_like(mc.gains), mc.band, mc.source_position,
                                      tuple(f for f in mc.faults if f.exclude)))
    maps = {"ideal": _map(ideal, d / "i.h5"), "ideal, same mics": _map(ideal, d / "s.h5", same),
            "uncalibrated": _map(faulty, d / "u.h5"), "calibrated": _map(faulty, d / "c.h5", calibration)}
    with h5py.File(faulty) as s:
        truth = s["truth/pixel"][12, 0]
    cell = (int(truth[1] // (480 / 36)), int(truth[0] // (640 / 48)))
    peaks = {k: np.unravel_index(np.argmax(m), m.shape) for k, m in maps.items()}
    psl, null = _psl(maps, peaks["ideal"])
    print(f"4-5 kHz maps: peaks {peaks}, truth {cell}, main-lobe radius {null} cells, PSL dB {psl}")
    return peaks, cell, psl


@pytest.mark.slow
def test_calibrated_image_is_as_sharp_as_the_ideal_arrays(rig, tmp_path_factory):
    """Gains, delays and faults calibrated from one source; the image of a source elsewhere,
    4-5 kHz. Without capsule position errors, the calibrated image is the ideal array's with
    the six excluded microphones left out (measured: PSL 21.4 dB both; 23.1 dB with all 128;
    11.6 dB uncalibrated). Position errors (+-2 mm) are seen by a one-source calibration only
    in that source's direction; elsewhere they leave ~0.1 rad of phase error at 5 kHz (the
    rig's case, checked below with a looser bound)."""
    d = tmp_path_factory.mktemp("no_position_errors")
    errors = ArrayErrors.random(128, seed=2, position_mm=0.0, dead=(5,), stuck=(9,), clipping=(20,), noisy=(33,),
                                inverted=(47,), swapped=((60, 100),))
    cal = write_calibration(d / "cal.json", calibrate_microphones(_session(d / "cal.h5", CAL_SOURCE, errors), CAL_SOURCE))
    peaks, cell, psl = _compare(d, errors, cal)
    assert max(abs(peaks["calibrated"][0] - cell[0]), abs(peaks["calibrated"][1] - cell[1])) <= 1
    assert abs(psl["calibrated"] - psl["ideal, same mics"]) <= 1.0
    assert psl["ideal"] - psl["ideal, same mics"] < 2.5  # what losing six of 128 microphones costs here
    assert psl["uncalibrated"] < psl["ideal"] - 6.0  # the errors and faults cost at least 6 dB of contrast
    # the rig, with position errors too
    peaks, cell, psl = _compare(rig["dir"], ERRORS, rig["path"])
    assert max(abs(peaks["calibrated"][0] - cell[0]), abs(peaks["calibrated"][1] - cell[1])) <= 1
    assert psl["ideal, same mics"] - 2.0 <= psl["calibrated"] and psl["uncalibrated"] < psl["calibrated"] - 5.0
    with h5py.File(rig["dir"] / "c.h5") as f:
        params = json.loads(f.attrs["params_json"])
    assert params["calibration"]["sha256"] == rig["cal"].sha256
    assert params["calibration"]["excluded_mics"] == [5, 9, 20, 33, 60, 100]


def test_calibration_file_errors_are_one_line(tmp_path, rig):
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(CalibrationFormatError, match=r"c.json: file: expected JSON, found not JSON"):
        load_calibration(p)
    p.write_text(json.dumps({"acam_schema": "acam-session", "version": 1}))
    with pytest.raises(CalibrationFormatError, match=r"acam_schema: expected 'acam-calibration', found 'acam-session'"):
        load_calibration(p)
    doc = json.loads(rig["path"].read_text())
    doc["microphones"]["gain_re"] = doc["microphones"]["gain_re"][:10]
    p.write_text(json.dumps(doc))
    with pytest.raises(CalibrationFormatError, match=r"gain_re, gain_im: expected \(128, 512\) numbers each, found \(10, 512\) and \(128, 512\)"):
        load_calibration(p)
    with pytest.raises(AcamError, match="--source: expected X,Y,Z"):
        calibrate_microphones(rig["dir"] / "cal.h5", (1.0, 2.0))


def test_cli_calibrate_info_and_beamform(rig, tmp_path):
    from conftest import run_acam

    r = run_acam("info", rig["path"])
    assert r.returncode == 0 and "faults:      7; excluded: [5, 9, 20, 33, 60, 100]" in r.stdout
    assert "mic  47  inverted  kept" in r.stdout
    r = run_acam("calibrate", "array", rig["dir"] / "cal.h5", "--source", "1,2", "--out", tmp_path / "x.json", check=False)
    assert r.returncode == 2 and r.stderr.strip() == "acam: error: --source: expected X,Y,Z in metres (array frame), found '1,2'"
    assert not (tmp_path / "x.json").exists()
    r = run_acam("beamform", rig["dir"] / "cal.h5", "--calibration", tmp_path / "missing.json", "--out", tmp_path / "o.h5",
                 check=False)
    assert r.returncode == 2 and "missing.json: file: expected a readable acam calibration file" in r.stderr


# --- camera intrinsics -----------------------------------------------------------------------

TRUE_CAMERA = dict(fx=560.0, fy=556.0, cx=325.0, cy=236.0, distortion=[-0.2, 0.05, 0.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def board_views(tmp_path_factory):
    """Nine 9x6 chessboard views rendered through a camera with known intrinsics and k1 = -0.2,
    written as PNG files."""
    import cv2

    from acoustic_camera import Camera
    from acoustic_camera.sim.boards import board_view, random_views

    d = tmp_path_factory.mktemp("views")
    cam = Camera(**TRUE_CAMERA)
    paths = []
    for i, (R, t) in enumerate(random_views(cam, 9, seed=0)):
        paths.append(d / f"view{i}.png")
        cv2.imwrite(str(paths[-1]), board_view(cam, R, t))
    return paths


def test_camera_intrinsics_recovered_from_rendered_board_views(board_views):
    from acoustic_camera.calibration.camera import calibrate_camera, load_views

    c = calibrate_camera(load_views(board_views), (9, 6), 0.025)
    t = TRUE_CAMERA
    print(f"fx {c.fx:.2f} fy {c.fy:.2f} cx {c.cx:.2f} cy {c.cy:.2f} k1 {c.distortion[0]:.4f} RMS {c.rms_px:.3f} px")
    assert abs(c.fx / t["fx"] - 1) < 0.01 and abs(c.fy / t["fy"] - 1) < 0.01
    assert abs(c.cx - t["cx"]) < 2 and abs(c.cy - t["cy"]) < 2
    assert abs(c.distortion[0] - t["distortion"][0]) < 0.02
    assert c.rms_px < 0.3 and c.views_used == 9 and not c.views_rejected


def test_an_outlier_view_is_rejected(board_views):
    """A view whose corners were detected on a picture from another camera (here: the same
    board seen through a different lens) does not fit the others and is left out."""
    from acoustic_camera import Camera
    from acoustic_camera.calibration.camera import View, calibrate_camera, load_views
    from acoustic_camera.sim.boards import board_view, random_views

    other = Camera(fx=420.0, fy=420.0, distortion=[0.25, 0, 0, 0, 0])
    R, t = random_views(other, 1, seed=7)[0]
    views = load_views(board_views) + [View("odd-one", board_view(other, R, t))]
    c = calibrate_camera(views, (9, 6), 0.025)
    assert c.views_rejected == ("odd-one",) and c.views_used == 9
    assert abs(c.fx / TRUE_CAMERA["fx"] - 1) < 0.01


def test_camera_calibration_errors_and_cli(board_views, tmp_path):
    import cv2

    from conftest import run_acam

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640), 128, np.uint8))
    r = run_acam("calibrate", "camera", blank, blank, "--out", tmp_path / "c.json", "--quiet", check=False)
    assert r.returncode == 2 and r.stderr.strip() == ("acam: error: IMAGES: expected a 9x6 chessboard (inner corners) in the "
                                                      "views, found it in none of 2")
    r = run_acam("calibrate", "camera", *board_views[:2], "--out", tmp_path / "c.json", "--quiet", check=False)
    assert r.returncode == 2 and "expected the 9x6 chessboard in at least 4 views, found it in 2 of 2" in r.stderr
    assert not (tmp_path / "c.json").exists()
    r = run_acam("calibrate", "camera", *board_views, "--out", tmp_path / "c.json", "--quiet")
    assert "reprojection RMS" in r.stdout
    r = run_acam("info", tmp_path / "c.json")
    assert "camera:      640x480, fx 5" in r.stdout and "microphones: not calibrated" in r.stdout


def test_beamform_takes_the_calibrated_camera(rig, tmp_path):
    from acoustic_camera.io.calibration import CameraCalibration

    cam = CameraCalibration(640, 480, 600.0, 600.0, 330.0, 240.0, (-0.1, 0, 0, 0, 0), 0.1, 9)
    write_calibration(tmp_path / "cam.json", Calibration(camera=cam))
    for name, cal in (("plain", None), ("cam", tmp_path / "cam.json")):
        beamform_session(rig["dir"] / "cal.h5", tmp_path / f"{name}.h5", features=("energy",), calibration=cal, backend="numba")
    with h5py.File(tmp_path / "plain.h5") as a, h5py.File(tmp_path / "cam.h5") as b:
        # the same pixels look along the calibrated camera's rays: narrower at fx 600 than 554
        wa = np.degrees(np.arctan2(a["grid/directions"][18, -1, 0], a["grid/directions"][18, -1, 2]))
        wb = np.degrees(np.arctan2(b["grid/directions"][18, -1, 0], b["grid/directions"][18, -1, 2]))
        assert wb < wa - 2
        assert json.loads(b.attrs["params_json"])["calibration"]["camera"] == "intrinsics and distortion"
    write_calibration(tmp_path / "small.json", Calibration(camera=CameraCalibration(320, 240, 300.0, 300.0, 160.0, 120.0,
                                                                                      (0, 0, 0, 0, 0), 0.1, 9)))
    with pytest.raises(AcamError, match="expected a camera of the session's 640x480 pixels, found 320x240"):
        beamform_session(rig["dir"] / "cal.h5", tmp_path / "x.h5", calibration=tmp_path / "small.json")


# --- audio-video offset -----------------------------------------------------------------------

def _clicks(path, delay):
    simulate_to_file(SimConfig(duration=12.0, seed=5, sources=(SourceSpec("clicks", position=(0.4, 0.1, 3.0)),),
                               video_delay=delay), path)
    return path


@pytest.mark.parametrize("delay", [0.09, pytest.param(0.0, marks=pytest.mark.slow)])
def test_audio_video_offset_recovered_within_a_quarter_frame(delay, tmp_path):
    """Clicks at random phases against the 12 fps frame clock, an LED lit with each; the
    camera's pictures come `delay` late. Measured: 91.7 ms for 90 ms, 4.8 ms for 0 (23 events)."""
    from acoustic_camera.calibration.sync import estimate_offset

    cal = estimate_offset(_clicks(tmp_path / "clicks.h5", delay), distance=3.0)
    print(f"delay {delay * 1000:.0f} ms: estimated {cal.sync.av_offset_s * 1000:.1f} ms from {cal.sync.events} events")
    assert cal.sync.events >= 20
    assert abs(cal.sync.av_offset_s - delay) < (1 / 12) / 4


def test_sync_needs_visible_events_and_is_applied_by_beamform(rig, tmp_path):
    from acoustic_camera.calibration.sync import estimate_offset, visual_onsets
    from acoustic_camera.io.calibration import SyncCalibration

    still = np.full((12, 48, 64), 90.0, np.float32)
    assert visual_onsets(still).size == 0
    still[[3, 8], 10:14, 20:24] = 250.0  # an LED lit in two frames
    assert visual_onsets(still).tolist() == [3, 8]

    with pytest.raises(AcamError, match=r"cal.h5: expected at least 5 events seen and heard, found 0 \(\d+ in the picture, "
                                        r"0 in the sound\)"):
        estimate_offset(rig["dir"] / "cal.h5")  # a loudspeaker playing steady noise: no onsets
    write_calibration(tmp_path / "sync.json", Calibration(sync=SyncCalibration(0.09, 23, 0.005, 3.0)))
    for name, cal in (("plain", None), ("sync", tmp_path / "sync.json")):
        beamform_session(rig["dir"] / "cal.h5", tmp_path / f"{name}.h5", features=("energy",), calibration=cal, backend="numba")
    with h5py.File(tmp_path / "plain.h5") as a, h5py.File(tmp_path / "sync.h5") as b:
        # frame 0's picture shows the audio 90 ms before its stamp: its window lies before the recording
        assert a["coverage"][0] == 0.5 and b["coverage"][0] == 0.0
        assert json.loads(b.attrs["params_json"])["calibration"]["av_offset_s"] == 0.09


def test_plot_calibration_draws_gains_with_the_faults_named(rig, tmp_path):
    from conftest import run_acam

    r = run_acam("plot", "calibration", rig["path"], "--out", tmp_path / "cal.png")
    assert r.returncode == 0 and (tmp_path / "cal.png").stat().st_size > 30_000
    sync_only = tmp_path / "sync.json"
    from acoustic_camera.io.calibration import SyncCalibration

    write_calibration(sync_only, Calibration(sync=SyncCalibration(0.05, 20, 0.005, 3.0)))
    r = run_acam("plot", "calibration", sync_only, "--out", tmp_path / "x.png", check=False)
    assert r.returncode == 2 and "microphones: expected a calibrated array (acam calibrate array), found none" in r.stderr
    assert not (tmp_path / "x.png").exists()
