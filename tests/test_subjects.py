"""Simulated subjects: the traits that make a person (voice, tempo, loudness, place, gait,
looks) carry across that subject's sessions and differ between subjects."""

import numpy as np
from scipy import signal

from acoustic_camera.sim.simulator import SimConfig, Simulator
from acoustic_camera.sim.sounds import make_sound
from acoustic_camera.sim.subjects import Subject
from acoustic_camera.sim.trajectories import SourceSpec


def _pitch(label, subject, seed, fs=12000, seconds=6.0):
    """Median frame-wise spectral peak (Hz) over loud frames."""
    s = Subject.make(subject)
    x = make_sound(label, fs, np.random.default_rng(seed), 0.5, traits=s.sound_traits(label)).next(int(seconds * fs))
    f, _, S = signal.stft(x, fs, nperseg=2048)
    p = np.abs(S) ** 2
    loud = p.sum(0) > 0.1 * p.sum(0).max()
    return float(np.median(f[p[:, loud].argmax(0)]))


def _tempo(label, subject, seed, fs=12000, seconds=12.0):
    s = Subject.make(subject)
    x = make_sound(label, fs, np.random.default_rng(seed), 0.5, traits=s.sound_traits(label)).next(int(seconds * fs))
    hop = int(0.005 * fs)
    e = np.sqrt(np.mean(x[:len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    pk, _ = signal.find_peaks(e, height=0.1 * e.max(), distance=12, prominence=0.05 * e.max())
    return float(np.median(np.diff(pk)) * 0.005)


def test_a_subjects_voice_and_tempo_carry_across_sessions_and_differ_between_subjects():
    """Clapping and hammering tempo, measured from the sound of two sessions of each of eight
    subjects: the same subject's sessions agree far better than subjects agree with each other.
    The voice's and the whistle's register are traits too (their melodies wander too much for a
    short recording's pitch to show it, so the traits themselves are compared)."""
    for label in ("clapping", "hammering"):
        t = np.array([[_tempo(label, s, seed) for seed in (1, 2)] for s in range(8)])
        within, across = np.abs(t[:, 0] - t[:, 1]).mean(), t.mean(axis=1).std()
        assert within < 0.4 * across, (label, t)
    rng = np.random.default_rng
    f0 = [[make_sound("speech", 12000, rng(seed), traits=Subject.make(s).sound_traits("speech"))._f0 for seed in (1, 2)]
          for s in (1, 2)]
    assert f0[0][0] == f0[0][1] != f0[1][0]
    base = [make_sound("whistling", 12000, rng(seed), traits=Subject.make(3).sound_traits("whistling"))._base
            for seed in (1, 2)]
    assert base[0] == base[1]


def test_a_subjects_place_looks_and_loudness_carry_across_sessions():
    def session(subject, seed):
        sim = Simulator(SimConfig(duration=12, seed=seed, subject=subject, sources=(SourceSpec("clapping", "walk"),)))
        t = np.linspace(0, 12, 60)
        return sim, sim.sources[0].traj.position(t)

    a1, p1 = session(7, 1)
    a2, p2 = session(7, 2)
    b, q = session(8, 1)
    s7, s8 = Subject.make(7), Subject.make(8)
    assert abs(np.median(p1[:, 2]) - s7.depth_m) < 0.8 and abs(np.median(p2[:, 2]) - s7.depth_m) < 0.8
    assert a1.sources[0].sound.level_pa == a2.sources[0].sound.level_pa != b.sources[0].sound.level_pa
    assert s7.clothes != s8.clothes
    frames = next(a1.chunks()).frames
    clothes = np.all(frames == np.array(s7.clothes, np.uint8), axis=-1)
    assert clothes.sum() > 50  # the figure wears the subject's clothes
    assert Subject.make(7) == s7  # seeded by the index alone
