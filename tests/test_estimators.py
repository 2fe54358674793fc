"""The cross-spectral estimators' reference (kernels/estimators.py): delay-and-sum on one frame's
CSM is the kernels' power; on the same CSM, grid and steering each method equals its Acoular
counterpart within 1e-4 of the map's peak; short-time CSMs average the frames around each one."""

import numpy as np
import pytest

from acoustic_camera.kernels import estimators as est
from acoustic_camera.kernels.formulation import steering_table

BINS = np.array([60, 120, 250])  # 0.7, 1.4 and 2.9 kHz at 12 kHz, 1024-sample frames


@pytest.fixture(scope="module")
def scene():
    """A 2-s anechoic simulation, two sources 10 dB apart, on a 16-mic random planar array; the
    beamformer's spectra (23 frames) and steering on a 6 x 8 look grid."""
    from acoustic_camera import Camera
    from acoustic_camera.array.geometry import ArrayGeometry
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.sim.simulator import SimConfig, Simulator
    from acoustic_camera.sim.trajectories import SourceSpec

    rng = np.random.default_rng(3)
    geom = ArrayGeometry(np.c_[rng.uniform(-0.2, 0.2, (16, 2)), np.zeros(16)], name="random16")
    cfg = SimConfig(scenario="anechoic", duration=2.0, geometry=geom, seed=2,
                    sources=(SourceSpec("whistling", position=(-0.6, 0.0, 3.0), level_pa=0.3),
                             SourceSpec("speech", position=(0.7, 0.2, 3.0), level_pa=0.1)))
    audio = np.concatenate([c.audio for c in Simulator(cfg).chunks()])
    n = audio.shape[0] // 1024
    bf = Beamformer(geom, Camera(), 12000.0, grid=(6, 8), backend="numpy", steering="true level")
    X = bf.spectra(audio[: n * 1024].reshape(n, 1024, -1))
    W = steering_table(np, bf.plan.tau, bf.plan.amp, bf.plan.freqs[BINS], np.complex128)
    return {"bf": bf, "X": X, "W": W, "geom": geom}


def peak_error(ours, ref):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def test_delay_and_sum_on_one_frame_is_the_kernels_power(scene):
    X, W, bf = scene["X"], scene["W"], scene["bf"]
    C = est.frame_csm(np, X[:4], BINS)  # (4, 3, M, M)
    np.testing.assert_allclose(C, np.swapaxes(C, -1, -2).conj())  # Hermitian
    ours = est.das(np, C, W)  # (4, 3, P)
    power = bf.backend.power(bf.plan, X[:4])[:, :, BINS].transpose(0, 2, 1)  # (4, 3, P) from the kernel
    assert peak_error(ours, power) < 1e-6  # the kernel's float32 output against float64


def test_short_time_csm_averages_the_frames_around_each(scene):
    X = scene["X"][:7]
    one = est.frame_csm(np, X, BINS)
    st = est.short_time_csm(np, X, 3, BINS)
    np.testing.assert_allclose(st[3], one[2:5].mean(0), rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(st[0], one[0:3].mean(0), rtol=1e-12, atol=1e-20)  # cut at the start
    np.testing.assert_allclose(st[6], one[4:7].mean(0), rtol=1e-12, atol=1e-20)  # and at the end
    np.testing.assert_allclose(est.short_time_csm(np, X, 1, BINS), one)


@pytest.fixture(scope="module")
def acoular_side(scene):
    """Acoular's beamformers on our session CSM (all 23 frames), grid, mics and steering; the CSM
    diagonally loaded by 1 % of the mean power so Capon's inverse is well conditioned in both."""
    ac = pytest.importorskip("acoular")
    ac.config.global_caching = "none"
    bf, geom = scene["bf"], scene["geom"]
    C = est.short_time_csm(np, scene["X"], len(scene["X"]), BINS)[len(scene["X"]) // 2]  # (B, M, M)
    m = C.shape[-1]
    C = C + 0.01 * (np.trace(C, axis1=-2, axis2=-1).real / m)[:, None, None] * np.eye(m)
    freqs = bf.plan.freqs[BINS]

    def run(cls, **kw):
        # fresh objects per call: Acoular memoises on digests that two CSMs can share
        ps = ac.PowerSpectraImport(csm=C.copy(), frequencies=freqs)
        steer = ac.SteeringVector(grid=ac.ImportGrid(pos=np.ascontiguousarray(bf.grid.points.reshape(-1, 3).T)),
                                  mics=ac.MicGeom(pos_total=np.ascontiguousarray(geom.positions.T)),
                                  env=ac.Environment(c=bf.c), steer_type="true level", ref=np.zeros(3))
        b = cls(freq_data=ps, steer=steer, cached=False, **kw)
        return np.stack([np.array(b.result[i]) for i in range(len(freqs))])

    return C, run, ac


def test_each_estimator_equals_acoulars_within_1e4_of_the_peak(scene, acoular_side):
    C, run, ac = acoular_side
    W = scene["W"]
    cases = {
        "das": (est.das(np, C, W), run(ac.BeamformerBase, r_diag=False)),
        "das-diag": (est.das(np, C, W, diagonal=False), run(ac.BeamformerBase, r_diag=True)),
        "functional": (est.functional(np, C, W, 4.0), run(ac.BeamformerFunctional, gamma=4.0)),
        "capon": (est.capon(np, C, W), run(ac.BeamformerCapon)),
        "cleansc": (est.cleansc(np, C, W)[0], run(ac.BeamformerCleansc)),
        "cleansc-diag": (est.cleansc(np, C, W, diagonal=True)[0], run(ac.BeamformerCleansc, r_diag=False)),
    }
    errors = {k: peak_error(ours, ref) for k, (ours, ref) in cases.items()}
    print("relative to each map's peak:", errors)
    assert all(e < 1e-4 for e in errors.values()), errors
    for k, (ours, _) in cases.items():
        assert ours.shape == (len(BINS), W.shape[1]) and np.all(np.isfinite(ours)), k


def test_cleansc_puts_a_sources_power_at_its_point_and_leaves_no_residual(scene):
    """One monopole of power 2 Pa^2 (at the reference point) on look point 21, nothing else: with
    'true level' steering and the diagonal left out (CLEAN-SC's own setting), the clean map holds
    2 at that point and nowhere else, and the residual is ~0. Keeping the diagonal, the
    coherence step (which never reads it) over-counts: 2.13, as Acoular's does."""
    bf, W = scene["bf"], scene["W"]
    p = 21
    x = bf.grid.points.reshape(-1, 3)[p]
    r, r0 = np.linalg.norm(x - scene["geom"].positions, axis=1), np.linalg.norm(x)
    f = bf.plan.freqs[BINS][:, None]
    a = (r0 / r)[None] * np.exp(-2j * np.pi * f * (r - r0)[None] / bf.c)  # the monopole's transfer, (B, M)
    C = 2.0 * a[:, :, None] * a[:, None, :].conj()
    clean, resid = est.cleansc(np, C, W)
    assert np.all(clean.argmax(-1) == p) and np.count_nonzero(clean) == len(BINS)
    np.testing.assert_allclose(clean.sum(-1), 2.0, rtol=1e-4)
    assert np.abs(resid).max() < 1e-6 * 2.0
    kept, _ = est.cleansc(np, C, W, diagonal=True)
    assert np.all(kept.sum(-1) > 2.1)


def test_band_maps_stream_a_session_and_one_frame_das_is_the_kernels_band_power(tmp_path, small_geometry):
    """methods.band_maps over a session file in batches: with one-frame CSMs, delay-and-sum is the
    kernel's volumes summed over the band; longer CSMs average those over the frames around
    each, moved inside the session at its ends."""
    from acoustic_camera import Camera
    from acoustic_camera.beamform.beamformer import Beamformer
    from acoustic_camera.beamform.methods import MethodSpec, band_maps
    from acoustic_camera.beamform.spectra import gather_frames
    from acoustic_camera.framing import frame_windows
    from acoustic_camera.io.session import open_session
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    path = tmp_path / "s.h5"
    simulate_to_file(SimConfig(scenario="anechoic", duration=1.5, geometry=small_geometry, seed=1,
                               sources=(SourceSpec("whistling", position=(0.5, 0.0, 3.0)),)), path)
    band = (1000.0, 1500.0)
    with open_session(path) as s:
        bf = Beamformer(s.geometry, Camera(), s.sample_freq, grid=(6, 8), backend="numpy")
        args = (s.audio, s.frame_sample_index, s.n_samples, s.n_channels, bf)
        one = band_maps(*args, MethodSpec("das", csm_frames=1), band, batch=5, block=3)
        three = band_maps(*args, MethodSpec("das", csm_frames=3), band, batch=4)
        starts, _ = frame_windows(s.frame_sample_index, bf.nfft, s.n_samples)
        vol = bf(gather_frames(s.audio, starts, bf.nfft, s.n_samples, s.n_channels))
    sel = (bf.freqs >= 1000) & (bf.freqs <= 1500)
    want = vol[..., sel].sum(-1)
    assert one.shape == want.shape == (18, 6, 8)
    assert peak_error(one, want) < 1e-5
    assert peak_error(three[5], want[4:7].mean(0)) < 1e-5
    assert peak_error(three[0], want[0:3].mean(0)) < 1e-5 and peak_error(three[-1], want[-3:].mean(0)) < 1e-5
    for spec in (MethodSpec("das-diag"), MethodSpec("functional"), MethodSpec("capon"), MethodSpec("cleansc", n_iter=8)):
        with open_session(path) as s:
            m = band_maps(s.audio, s.frame_sample_index, s.n_samples, s.n_channels, bf, spec, band)
        assert m.shape == (18, 6, 8) and np.all(np.isfinite(m)), spec
        got, ref = (np.array(np.unravel_index(np.argmax(x), (6, 8))) for x in (m[9], want[9]))
        assert np.abs(got - ref).max() <= 1, (spec, got, ref)  # the source's cell, or its neighbour on this coarse grid


@pytest.mark.parametrize("method", ["das", "das-diag", "functional", "capon", "cleansc"])
def test_the_fast_path_equals_the_reference_on_short_time_csms(scene, method):
    """kernels/lowrank.py computes every method from the frames' beam spectra (complex64, as it
    runs) and the windows' K x K Gram matrices; on 12-frame CSMs of a 16-mic array (rank 12) it
    equals the full-CSM reference within 1e-4 of each map's peak (measured: das 4e-7, capon 5e-6;
    functional 5e-6, where the reference's own rounding eigenvalues, raised to 1/nu, are the gap)."""
    from acoustic_camera.beamform.methods import MethodSpec, estimate, estimate_windows
    from acoustic_camera.kernels import lowrank as lr

    X, W = scene["X"], scene["W"]
    n, k = len(X), 12
    spec = MethodSpec(method, csm_frames=k, n_iter=30)
    centres = np.array([0, 5, 11, 17, 22])
    ref = estimate(spec, est.short_time_csm(np, X, k, BINS, centres), W)
    x = np.ascontiguousarray(X[:, :, BINS].transpose(2, 1, 0))
    ours = estimate_windows(np, spec, W, x, lr.window_index(np, centres, k, n))
    assert ours.shape == ref.shape == (5, len(BINS), W.shape[1])
    assert peak_error(ours, ref) < 1e-4, peak_error(ours, ref)
    if method == "cleansc":  # the same sources, at the same points
        strong = ref > 1e-3 * ref.max(axis=-1, keepdims=True)
        np.testing.assert_array_equal(ours > 1e-3 * ref.max(axis=-1, keepdims=True), strong)
        print("sources per map above -30 dB:", strong.sum(-1).ravel(), "; any:", (ref > 0).sum(-1).ravel(), (ours > 0).sum(-1).ravel())
