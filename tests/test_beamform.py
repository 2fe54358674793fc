"""The beamformer (the kernels' own contract is tests/test_kernels.py): the physics holds — sources at
their pixels, two sources resolved, main-lobe width from the aperture, exact levels, masks and
gains as the formula says."""

import hashlib
import math

import h5py
import numpy as np
import pytest

from acoustic_camera import AcamError, Camera, preset
from acoustic_camera.beamform.pipeline import beamform_session
from acoustic_camera.beamform.beamformer import Beamformer
from acoustic_camera.beamform.features import band_mask
from acoustic_camera.kernels.base import get_backend
from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
from acoustic_camera.framing import frame_windows
from acoustic_camera.sim.trajectories import SourceSpec
from conftest import assert_agree

C = 343.0
FS = 12000.0
CAM = Camera()


@pytest.fixture(scope="module")
def dualcam():
    return preset("dualcam128")


def _noise_sources(geometry, positions, seconds=0.2, seed=0):
    """Samples (n, M) of independent white-noise point sources (1 Pa RMS at 1 m) at `positions`,
    by exact fractional delays in the frequency domain."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    f = np.fft.rfftfreq(n, 1 / FS)
    out = np.zeros((geometry.n_mics, f.size), complex)
    for p in positions:
        S = np.fft.rfft(rng.standard_normal(n))
        r = np.linalg.norm(np.asarray(p) - geometry.positions, axis=1)
        out += S[None] * np.exp(-2j * np.pi * f[None] * r[:, None] / C) / r[:, None]
    return np.fft.irfft(out, n).T.astype(np.float32)


def _frames(x, nfft=1024):
    centre = x.shape[0] // 2
    return x[None, centre - nfft // 2:centre + nfft // 2]


BANDS = [(1000, 2000), (2000, 4000), (4000, 6000)]
PIXELS = [(320, 240), (30, 240), (610, 240), (320, 25), (320, 455), (30, 25), (610, 25), (30, 455), (610, 455)]


@pytest.mark.parametrize("uv", PIXELS, ids=[f"{u}x{v}" for u, v in PIXELS])
def test_source_shows_at_its_pixel_in_every_band(dualcam, uv):
    pos = CAM.backproject(np.array(uv, float), 3.0)
    x = _noise_sources(dualcam, [pos])
    bf = Beamformer(dualcam, CAM, FS, focus_distance=3.0, backend="numba")
    vol = bf(_frames(x))[0]
    row, col = bf.grid.cell_of_pixel(uv)
    for band in BANDS:
        e = vol[:, :, band_mask(bf.freqs, band)].sum(-1)
        i, j = np.unravel_index(np.argmax(e), e.shape)
        assert max(abs(i - row), abs(j - col)) <= 1, (band, (i, j), (row, col))


def test_two_sources_are_both_found(dualcam):
    uv1, uv2 = (180, 200), (470, 300)
    x = _noise_sources(dualcam, [CAM.backproject(np.array(uv, float), 3.0) for uv in (uv1, uv2)], seed=3)
    bf = Beamformer(dualcam, CAM, FS, backend="numba")
    e = bf(_frames(x))[0][:, :, band_mask(bf.freqs, (2000, 6000))].sum(-1)
    cells = [bf.grid.cell_of_pixel(uv) for uv in (uv1, uv2)]
    # each source is the maximum of its half of the picture, at its cell
    for (row, col), half in zip(cells, (slice(0, 24), slice(24, 48))):
        sub = e[:, half]
        i, j = np.unravel_index(np.argmax(sub), sub.shape)
        assert max(abs(i - row), abs(j + half.start - col)) <= 1
        assert sub.max() > 0.5 * e.max()  # both are strong, neither a sidelobe of the other


def test_main_lobe_width_follows_the_aperture(dualcam):
    from acoustic_camera.array.beampattern import mainlobe_width

    f0 = 3000.0
    cam = Camera()
    bf = Beamformer(dualcam, cam, FS, grid=(1, 401), focus_distance=None, backend="numba")
    k = int(round(f0 * 1024 / FS))
    x = _noise_sources(dualcam, [np.array([0.0, 0.0, 300.0])])  # far field on axis
    row = bf(_frames(x))[0, 0, :, k]
    row = row / row.max()
    ang = np.degrees(np.arctan2(bf.grid.directions[0, :, 0], bf.grid.directions[0, :, 2]))
    above = ang[row >= 0.5]
    width = above.max() - above.min()
    expected = mainlobe_width(dualcam.positions, bf.freqs[k])  # from the array's beampattern
    assert width == pytest.approx(expected, rel=0.15)
    lam_over_d = math.degrees(C / bf.freqs[k] / 0.45)
    assert 0.8 * lam_over_d < width < 2.0 * lam_over_d  # roughly lambda / D (tapered layout: wider)


def test_true_level_gives_the_known_level(dualcam):
    """A sine of 1 Pa amplitude at the reference point, from a source at a look point, on a bin:
    |y|^2 = 0.5 Pa^2 in that bin with 'true level' and 'inverse' steering."""
    bf = Beamformer(dualcam, CAM, FS, grid=(9, 12), steering="true level", backend="numpy")
    p = bf.grid.points[4, 6]
    r0, r = np.linalg.norm(p), np.linalg.norm(p - dualcam.positions, axis=1)
    k = 200
    f = bf.freqs[k]
    t = np.arange(1024)[:, None] / FS
    x = (r0 / r) * np.sin(2 * np.pi * f * (t - (r - r0) / C))
    for steering in ("true level", "inverse"):
        bf = Beamformer(dualcam, CAM, FS, grid=(9, 12), steering=steering, backend="numpy")
        vol = bf(x)[0]
        assert vol[4, 6, k] == pytest.approx(0.5, rel=1e-3)
        assert np.unravel_index(np.argmax(vol[:, :, k]), (9, 12)) == (4, 6)


def test_bad_mask_and_gains_change_the_output_exactly_as_the_formula_says(dualcam):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1024, 128)).astype(np.float32)
    g = dualcam.with_bad([79, 105])
    gains = np.exp(1j * rng.uniform(-0.3, 0.3, 128)) * rng.uniform(0.8, 1.2, 128)
    bf = Beamformer(g, CAM, FS, grid=(6, 8), calibration=gains, backend="numba")
    vol = bf(x)[0]
    # the formula, longhand: spectra of the good mics times their gain, classic weights 1/126
    good = ~g.bad
    w = bf.window
    X = np.fft.rfft(x.T * w, axis=-1)[:, :512] * np.sqrt(2) / w.sum()
    X[:, 0] /= np.sqrt(2)
    pts = bf.grid.points.reshape(-1, 3)
    r = np.linalg.norm(pts[:, None] - g.positions[None], axis=-1)
    tau = (r - np.linalg.norm(pts, axis=-1)[:, None]) / C
    W = np.exp(2j * np.pi * bf.freqs[None, None] * tau[..., None]) / good.sum()
    y = np.einsum("pmf,mf->pf", W[:, good], (X * gains[:, None])[good])
    assert_agree(vol.reshape(48, 512), np.abs(y) ** 2)
    # garbage on a bad microphone changes nothing
    x2 = x.copy()
    x2[:, 79] = 1e6
    np.testing.assert_array_equal(bf(x2), bf(x))


def test_edge_frames_are_zero_padded_and_their_coverage_recorded():
    starts, cov = frame_windows(np.array([0, 256, 512, 9000, 9500]), 1024, 10000)
    np.testing.assert_array_equal(starts, [-512, -256, 0, 8488, 8988])
    np.testing.assert_allclose(cov, [0.5, 0.75, 1.0, 1.0, 1012 / 1024])


def test_invalid_parameters_are_clear(dualcam):
    with pytest.raises(AcamError, match="steering"):
        Beamformer(dualcam, CAM, FS, steering="magic")
    with pytest.raises(AcamError, match="window"):
        Beamformer(dualcam, CAM, FS, window="nope")
    with pytest.raises(AcamError, match="samples must be"):
        Beamformer(dualcam, CAM, FS, backend="numpy")(np.zeros((1024, 3)))
    with pytest.raises(AcamError, match="every microphone"):
        Beamformer(preset("uma16").with_bad(range(16)), CAM, FS)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    p = tmp_path_factory.mktemp("bf") / "s.h5"
    cfg = SimConfig(scenario="anechoic", duration=1.0, seed=3, noise=True,
                    sources=(SourceSpec("paper_ripping", position=(0.5, -0.2, 3.0)),))
    simulate_to_file(cfg, p)
    return p


def test_backends_agree_on_a_simulated_session(session):
    from acoustic_camera import open_session
    from acoustic_camera.beamform.spectra import gather_frames

    with open_session(session) as s:
        starts, _ = frame_windows(s.frame_sample_index[4:7], 1024, s.n_samples)
        frames = gather_frames(s.audio, starts, 1024, s.n_samples, s.n_channels)
        bf = Beamformer(s.geometry, s.camera, s.sample_freq, backend="numpy")
        X = bf.spectra(frames)
    assert_agree(get_backend("numba").power(bf.plan, X), get_backend("numpy").power(bf.plan, X))


def test_beamform_session_file(session, tmp_path):
    out = tmp_path / "s.acoustic.h5"
    r = beamform_session(session, out, features=("volumes", "mfcc", "energy"), batch=5, backend="numba")
    assert r["frames"] == 12 and r["partial_frames"] == 1  # frame 0 is centred on sample 0
    # set-up (plan, tables, a first run's compiling) is reported apart from the throughput
    assert 0 <= r["setup_seconds"] < r["seconds"] and r["volumes_per_s"] >= 12 / r["seconds"]
    with h5py.File(out) as f, h5py.File(session) as s:
        assert f.attrs["complete"] == 1 and f.attrs["acam_schema"] == "acam-acoustic"
        assert f["volumes"].shape == (12, 36, 48, 512) and f["volumes"].chunks == (1, 36, 48, 64)
        assert f["mfcc"].shape == (12, 36, 48, 12) and f["energy_db"].shape == (12, 36, 48)
        # the pipeline's one-pass features are the reference formulas of the stored volumes
        from acoustic_camera.beamform.features import mfcc

        np.testing.assert_allclose(f["mfcc"][6], mfcc(f["volumes"][6], f["frequencies"][()]), atol=1e-4)
        np.testing.assert_allclose(f["coverage"][:2], [0.5, 1.0])
        assert f.attrs["session_time_data_sha256"] == hashlib.sha256(s["time_data"][()].tobytes()).hexdigest()
        e = f["energy_db"][6]
        truth = s["truth/pixel"][6, 0]
        i, j = np.unravel_index(np.argmax(e), e.shape)
        assert max(abs(i - int(truth[1] // (480 / 36))), abs(j - int(truth[0] // (640 / 48)))) <= 1
        np.testing.assert_array_equal(f["frame_sample_index"][()], s["video/sample_index"][()])
    with pytest.raises(AcamError, match="file exists"):
        beamform_session(session, out)


def test_interrupted_beamform_leaves_no_file(session, tmp_path):
    out = tmp_path / "x.acoustic.h5"

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        beamform_session(session, out, batch=4, progress=stop, backend="numba")
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_beamform(session, tmp_path):
    from conftest import run_acam

    out = tmp_path / "o.h5"
    r = run_acam("beamform", session, "--out", out, "--features", "volumes,energy", "--dtype", "float16",
                 "--focus-distance", "inf", "--grid", "9x12", "--quiet")
    assert "wrote" in r.stdout and "volumes/s" in r.stdout
    with h5py.File(out) as f:
        assert f["volumes"].dtype == np.float16 and f["volumes"].shape == (12, 9, 12, 512)
        assert "mfcc" not in f and "points" not in f["grid"] and f["grid/directions"].shape == (9, 12, 3)
    for args, msg in ((["--grid", "36by48"], "ROWSxCOLS"), (["--features", "pictures"], "--features: expected a comma-separated subset"),
                      (["--focus-distance", "near"], "focus-distance")):
        r = run_acam("beamform", session, "--out", tmp_path / "x.h5", *args, check=False)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
        assert not (tmp_path / "x.h5").exists()
