"""The simulated DualCam obeys the physics it claims: delays, spreading, reverberation,
ground reflection, moving sources, and pictures that show each source at its true pixel."""

import math

import numpy as np
import pytest
from scipy import signal

from acoustic_camera.sim.rir import SPEED_OF_SOUND as C
from acoustic_camera.sim.scene_video import CLASS_COLORS
from acoustic_camera.sim.simulator import SimConfig, Simulator
from acoustic_camera.sim.trajectories import SourceSpec

FS = 12000.0


class Fixed:
    """A stand-in sound: a given signal, then silence."""

    def __init__(self, x, level=1.0):
        self.x, self.pos, self.level_pa = np.asarray(x, np.float32), 0, level

    def next(self, n):
        out = np.zeros(n, np.float32)
        part = self.x[self.pos:self.pos + n]
        out[: part.size] = part
        self.pos += n
        return out


def run(cfg, sounds=None):
    sim = Simulator(cfg, sounds)
    chunks = list(sim.chunks())
    return sim, np.concatenate([c.audio for c in chunks]), chunks


def tdoa(a, b, max_lag=64):
    """Delay of b relative to a in samples, by GCC-PHAT with parabolic peak interpolation."""
    n = 2 * len(a)
    X = np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n))
    cc = np.fft.irfft(X / (np.abs(X) + 1e-12), n)
    cc = np.concatenate([cc[-max_lag:], cc[:max_lag + 1]])
    k = int(np.argmax(cc))
    y0, y1, y2 = cc[k - 1], cc[k], cc[k + 1]
    return k - max_lag + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)


def test_anechoic_delays_match_geometry_within_a_sample(small_geometry):
    pos = np.array([0.6, -0.2, 2.5])
    cfg = SimConfig(scenario="anechoic", duration=2.0, geometry=small_geometry, seed=1,
                    sources=(SourceSpec("snapping", position=tuple(pos)),))
    _, audio, _ = run(cfg)
    mics = small_geometry.positions
    dist = np.linalg.norm(pos - mics, axis=1)
    expected = (dist - dist[0]) / C * FS
    measured = np.array([tdoa(audio[:, 0], audio[:, m]) for m in range(len(mics))])
    err = np.abs(measured - expected)
    assert err.max() < 1.0, err.max()
    assert np.median(err) < 0.2


def test_spherical_spreading_and_arrival_time(small_geometry):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(FS)).astype(np.float32)  # 1 Pa RMS at 1 m
    for r in (1.5, 4.0):
        cfg = SimConfig(scenario="anechoic", duration=1.5, geometry=small_geometry, noise=False,
                        sources=(SourceSpec("clapping", position=(0.0, 0.0, r)),))
        _, audio, _ = run(cfg, [Fixed(x)])
        d = np.linalg.norm(np.array([0, 0, r]) - small_geometry.positions, axis=1)
        rms = np.sqrt(np.mean(audio[: int(FS)] ** 2, axis=0))
        np.testing.assert_allclose(rms * d, 1.0, rtol=0.05)
        lag = tdoa(x, audio[: int(FS), 0], max_lag=400)
        assert lag == pytest.approx(d[0] / C * FS, abs=0.5)


def _schroeder_rt60(h, fs):
    e = np.cumsum(h[::-1] ** 2)[::-1]
    edc = 10 * np.log10(e / e[0] + 1e-30)
    i5, i25 = np.argmax(edc < -5), np.argmax(edc < -25)
    slope = (edc[i25] - edc[i5]) / ((i25 - i5) / fs)  # dB/s (T20)
    return -60 / slope


def test_indoor_impulse_response_has_the_rooms_reverberation(small_geometry):
    imp = np.zeros(int(FS))
    imp[0] = 1.0
    r = 3.0
    cfg = SimConfig(scenario="indoor", duration=2.0, geometry=small_geometry, noise=False,
                    sources=(SourceSpec("clapping", position=(0.0, 0.0, r)),))
    sim, audio, _ = run(cfg, [Fixed(imp)])
    h = audio[:, 0].astype(np.float64)
    d0 = np.linalg.norm(np.array([0, 0, r]) - small_geometry.positions[0])
    n0 = int(round(d0 / C * FS))
    # the direct sound: at its time, with 1/r amplitude
    assert abs(int(np.argmax(np.abs(h[: n0 + 40]))) - n0) <= 1
    assert np.abs(h[n0 - 2:n0 + 3]).max() == pytest.approx(1 / d0, rel=0.15)
    rt60 = _schroeder_rt60(h[n0:], FS)
    assert rt60 == pytest.approx(0.7, rel=0.2), rt60
    # reverberant energy dominates at 3 m (beyond the ~1.2 m critical distance of this room)
    direct = np.sum(h[n0 - 16:n0 + 16] ** 2)
    assert np.sum(h[n0 + 16:] ** 2) > 2 * direct
    # the diffuse tail is not one coherent wave: mics 10+ cm apart decorrelate in it
    late = slice(n0 + int(0.2 * FS), n0 + int(0.6 * FS))
    far = np.argmax(np.linalg.norm(small_geometry.positions - small_geometry.positions[0], axis=1))
    rho = np.corrcoef(audio[late, 0], audio[late, far])[0, 1]
    assert abs(rho) < 0.5


def test_outdoor_ground_reflection(small_geometry):
    imp = np.zeros(int(FS))
    imp[0] = 1.0
    p = np.array([0.0, 0.2, 3.0])  # array frame: y down, so 0.2 m below the array centre (1.2 m high)
    cfg = SimConfig(scenario="outdoor", duration=1.0, geometry=small_geometry, noise=False,
                    sources=(SourceSpec("clapping", position=tuple(p)),))
    sim, audio, _ = run(cfg, [Fixed(imp)])
    m = sim.mics_room[0]
    q = sim.scenario.array_to_room(p)
    mirror = q * [1, 1, -1]
    d_dir, d_ref = np.linalg.norm(q - m), np.linalg.norm(mirror - m)
    h = audio[:, 0]
    n_dir, n_ref = int(round(d_dir / C * FS)), int(round(d_ref / C * FS))
    assert np.abs(h[n_dir - 1:n_dir + 2]).max() == pytest.approx(1 / d_dir, rel=0.15)
    assert np.abs(h[n_ref - 1:n_ref + 2]).max() == pytest.approx(math.sqrt(0.95) / d_ref, rel=0.2)
    quiet = np.r_[h[n_dir + 20:n_ref - 20], h[n_ref + 20:]]
    assert np.abs(quiet).max() < 0.1 / d_ref  # nothing else reflects


def test_moving_source_delays_track_its_path_and_crossfades_are_smooth(small_geometry):
    t = np.arange(int(4 * FS)) / FS
    tone = np.sin(2 * np.pi * 1000 * t)
    noise = np.random.default_rng(3).standard_normal(t.size)
    cfg = SimConfig(scenario="anechoic", duration=4.0, geometry=small_geometry, noise=False, seed=2,
                    sources=(SourceSpec("speech", motion="walk", speed=1.4),))
    sim, audio, chunks = run(cfg, [Fixed(noise)])
    traj = sim.sources[0].traj
    mics = small_geometry.positions
    a, b = 0, int(np.argmax(np.abs(mics[:, 0] - mics[0, 0])))  # the pair farthest apart in x
    errs = []
    for t0 in np.arange(0.25, 3.75, 0.25):
        sl = slice(int((t0 - 0.125) * FS), int((t0 + 0.125) * FS))
        p = traj.position(t0)
        exp = (np.linalg.norm(p - mics[b]) - np.linalg.norm(p - mics[a])) / C * FS
        errs.append(tdoa(audio[sl, a], audio[sl, b]) - exp)
    assert np.abs(errs).max() < 0.5, errs
    # the path moves: the delay changes by several samples over the run
    span = [(np.linalg.norm(traj.position(s) - mics[b]) - np.linalg.norm(traj.position(s) - mics[a])) / C * FS for s in (0.25, 3.75)]
    assert abs(span[1] - span[0]) > 1 or not np.allclose(traj.position(0.25), traj.position(3.75))
    # a 1 kHz tone through the moving path: no crossfade notches. Its RMS in 5 ms blocks
    # stays within 3 % of a smoothed envelope (measured: 1.1 % at the default hop)
    _, tone_audio, _ = run(cfg, [Fixed(tone)])
    x = tone_audio[int(0.2 * FS):int(3.8 * FS), 0]
    env = np.sqrt(np.mean(x[: x.size // 60 * 60].reshape(-1, 60) ** 2, axis=1))
    assert np.max(np.abs(env / signal.savgol_filter(env, 41, 2) - 1)) < 0.03


def test_truth_and_video_show_each_source_at_its_pixel():
    cfg = SimConfig(scenario="indoor", duration=1.0, seed=4,
                    sources=(SourceSpec("whistling", motion="walk"), SourceSpec("knocking", position=(-0.8, 0.1, 3.0))))
    sim, audio, chunks = run(cfg)
    c = chunks[0]
    pix, front = cfg.camera.project(c.truth["position"])
    np.testing.assert_allclose(c.truth["pixel"], pix)
    assert c.truth["visible"].all()
    np.testing.assert_allclose(c.truth["pixel"][0, 1], cfg.camera.project(np.array([-0.8, 0.1, 3.0]))[0], atol=1e-9)
    for k in (0, len(c.frames) - 1):
        for j, label in enumerate(("whistling", "knocking")):
            u, v = np.round(c.truth["pixel"][k, j]).astype(int)
            patch = c.frames[k, v - 10:v + 11, u - 10:u + 11].reshape(-1, 3).astype(int)
            assert np.min(np.abs(patch - CLASS_COLORS[label]).sum(1)) < 40, label
    # walking speed between frames
    step = np.linalg.norm(np.diff(c.truth["position"][:, 0], axis=0), axis=1)
    assert step.max() <= 1.2 / 12 + 1e-9
    assert audio.shape == (12000, 128) and audio.dtype == np.float32


def test_deterministic_and_seeded(small_geometry):
    cfg = SimConfig(scenario="outdoor", duration=1.0, geometry=small_geometry, seed=9,
                    sources=(SourceSpec("hammering", motion="walk"),))
    _, a1, c1 = run(cfg)
    _, a2, c2 = run(cfg)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(c1[0].frames, c2[0].frames)
    _, a3, _ = run(SimConfig(scenario="outdoor", duration=1.0, geometry=small_geometry, seed=10,
                             sources=(SourceSpec("hammering", motion="walk"),)))
    assert not np.array_equal(a1, a3)


def test_other_sample_rate_and_frame_clock(small_geometry):
    cfg = SimConfig(scenario="anechoic", duration=1.0, sample_freq=12288.0, geometry=small_geometry,
                    sources=(SourceSpec("typing"),))
    sim, audio, chunks = run(cfg)
    assert audio.shape[0] == 12288
    np.testing.assert_array_equal(np.concatenate([c.frame_sample_index for c in chunks]), np.arange(12) * 1024)
    cfg = SimConfig(scenario="anechoic", duration=1.0, sample_freq=16000.0, video_fps=30.0, geometry=small_geometry)
    sim, audio, chunks = run(cfg)
    fsi = np.concatenate([c.frame_sample_index for c in chunks])
    assert audio.shape[0] == 16000 and len(fsi) == 30
    np.testing.assert_array_equal(fsi, np.round(np.arange(30) * 16000 / 30))


def test_a_silent_figure_is_seen_performing_and_heard_not_at_all(small_geometry):
    """A ``:silent`` source (the localisation control's decoy) draws exactly the pictures it would
    draw sounding, adds nothing to any microphone (reverberant tail included), and its truth says
    it never sounds."""
    kw = dict(scenario="indoor", duration=1.0, geometry=small_geometry, seed=3)
    heard = SourceSpec("clapping", position=(0.6, 0.0, 3.0))
    _, a_alone, _ = run(SimConfig(sources=(heard,), **kw))
    _, a_both, c_both = run(SimConfig(sources=(heard, SourceSpec("whistling", position=(-0.6, 0.0, 3.0))), **kw))
    sim, a_decoy, c_decoy = run(SimConfig(sources=(heard, SourceSpec.parse("whistling:silent@-0.6,0,3")), **kw))
    np.testing.assert_array_equal(a_decoy, a_alone)
    assert np.sqrt(np.mean((a_both - a_alone) ** 2)) > 0.1 * np.sqrt(np.mean(a_alone ** 2))  # a whistle is heard
    for b, d in zip(c_both, c_decoy):
        np.testing.assert_array_equal(d.frames, b.frames)  # the picture cannot tell them apart
        assert b.truth["active"][:, 1].any() and not d.truth["active"][:, 1].any()
        assert np.isneginf(d.truth["level_db"][:, 1]).all() and d.truth["visible"][:, 1].all()
        np.testing.assert_array_equal(d.truth["active"][:, 0], b.truth["active"][:, 0])
    assert sim.labels == ("clapping", "whistling")


def test_source_specs_parse_silent_and_reject_all_silent():
    s = SourceSpec.parse("hammering:walk:silent@0.5,0,3")
    assert (s.label, s.motion, s.silent, s.position) == ("hammering", "walk", True, (0.5, 0.0, 3.0))
    assert SourceSpec.parse("speech:silent").motion == "static" and not SourceSpec.parse("speech:walk").silent
    from acoustic_camera.errors import AcamError

    with pytest.raises(AcamError, match="motion must be one of"):
        SourceSpec.parse("speech:run")
    with pytest.raises(AcamError, match="at least one source must sound"):
        SimConfig(sources=(SourceSpec("speech", silent=True),))
