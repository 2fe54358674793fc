"""Ground truth describes the window each acoustic image analyses: checked against the session's
own audio (anechoic, noise off: the microphones hear the direct sound and nothing else), and
against the acoustic images (the source's pixel is where the images peak)."""

import numpy as np
import pytest

from acoustic_camera import open_session
from acoustic_camera.array.grid import make_grid
from acoustic_camera.beamform.pipeline import beamform_session
from acoustic_camera.constants import NFFT, P_REF, WINDOW
from acoustic_camera.framing import ALIGNMENT, make_window
from acoustic_camera.io.acoustic import open_acoustic
from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
from acoustic_camera.sim.trajectories import SourceSpec
from acoustic_camera.sim.truth import ACTIVE_THRESHOLD_DB

MARGIN_DB = 1.5  # frames this close to the threshold may fall either way (mic average vs reference point)


def _measured_levels(s):
    """Direct-sound level (dB SPL) in each frame's window, measured on the recorded audio: the
    microphones' window-weighted mean square, averaged over the array."""
    w2 = make_window(WINDOW, NFFT) ** 2
    audio = s.audio().astype(np.float64)
    out = np.full(s.n_frames, -np.inf)
    for k, c in enumerate(s.frame_sample_index):
        a = int(c) - NFFT // 2
        lo, hi = max(a, 0), min(a + NFFT, s.n_samples)
        ms = np.sum(w2[lo - a:hi - a, None] * audio[lo:hi] ** 2) / audio.shape[1] / np.sum(w2)
        out[k] = 10 * np.log10(ms / P_REF**2) if ms > 0 else -np.inf
    return out


@pytest.mark.parametrize("spec", ["clapping:walk", "knocking", "whistling", "speech:walk"])
def test_active_is_the_direct_sound_in_the_analysed_window(tmp_path, small_geometry, spec):
    label, _, motion = spec.partition(":")
    p = tmp_path / "s.h5"
    simulate_to_file(SimConfig(scenario="anechoic", duration=4.0, seed=3, geometry=small_geometry, noise=False,
                               sources=(SourceSpec(label, motion or "static"),)), p)
    with open_session(p) as s:
        t = s.truth
        assert t.window == {"window_samples": NFFT, "window_alignment": ALIGNMENT, "window": WINDOW,
                            "active_threshold_db": ACTIVE_THRESHOLD_DB, "levels_pa": [t.window["levels_pa"][0]]}
        measured = _measured_levels(s)
        r = np.linalg.norm(t.position[:, 0], axis=-1)
        threshold = 20 * np.log10(t.window["levels_pa"][0] / r / P_REF) + ACTIVE_THRESHOLD_DB
    loud = measured > threshold - 20
    # the stored level is the measured one, wherever there is sound to measure
    np.testing.assert_allclose(t.level_db[loud, 0], measured[loud], atol=1.0)
    clear = np.abs(measured - threshold) > MARGIN_DB
    assert clear.mean() > 0.85, clear.mean()
    np.testing.assert_array_equal(t.active[clear, 0], measured[clear] > threshold[clear])
    # both states occur: the test sees onsets and silences, not a constant
    assert 0.1 < t.active[:, 0].mean() < 1.0 or label == "whistling" and t.active[:, 0].mean() > 0.3


def test_impulses_are_active_in_the_frames_whose_window_holds_them(tmp_path, small_geometry):
    """One click at a known time: active exactly in the frames whose taper holds its arrival."""

    class Click:
        level_pa = 1.0

        def __init__(self, at):
            self.t, self.at = 0, at

        def next(self, n):
            x = np.zeros(n, np.float32)
            if self.t <= self.at < self.t + n:
                x[self.at - self.t] = 50.0
            self.t += n
            return x

    from acoustic_camera.sim.simulator import Simulator

    fs, at = 12000.0, 6300  # emitted at 525 ms
    cfg = SimConfig(scenario="anechoic", duration=1.5, geometry=small_geometry, noise=False, seed=1,
                    sources=(SourceSpec("clapping", "static", (0.0, 0.0, 3.43)),))
    sim = Simulator(cfg, sounds=[Click(at)])
    chunks = list(sim.chunks())
    truth = {k: np.concatenate([c.truth[k] for c in chunks]) for k in ("active", "level_db")}
    arrival = at + 120  # 3.43 m at 343 m/s: 10 ms = 120 samples
    w = make_window(WINDOW, NFFT)
    for k, centre in enumerate(sim.frame_sample_index):
        i = arrival - (int(centre) - NFFT // 2)
        weight = w[i] if 0 <= i < NFFT else 0.0
        # a unit impulse of 50 Pa at 1 m: level from its weighted energy alone
        expect = weight > 0 and 10 * np.log10((50 * weight / 3.43) ** 2 / np.sum(w**2) / P_REF**2) > \
            20 * np.log10(1.0 / 3.43 / P_REF) + ACTIVE_THRESHOLD_DB
        assert truth["active"][k, 0] == expect, (k, centre, weight)
    assert truth["active"][:, 0].sum() in (1, 2)  # 1000-sample frame spacing, 1024-sample windows


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["clapping:walk", "whistling"])
def test_acoustic_images_peak_at_the_truth_in_active_frames(tmp_path, spec):
    label, _, motion = spec.partition(":")
    p = tmp_path / "s.h5"
    simulate_to_file(SimConfig(scenario="anechoic", duration=5.0, seed=4, sources=(SourceSpec(label, motion or "static"),)), p)
    beamform_session(p, features=("energy",), band=(900.0, None), backend="numba")
    with open_session(p) as s, open_acoustic(tmp_path / "s.acoustic.h5", s) as a:
        t = s.truth
        grid = make_grid(s.camera)
        energy = a.energy_db[()]
        frames = np.flatnonzero(t.active[:, 0] & t.visible[:, 0])
        hits = 0
        for k in frames:
            peak = np.unravel_index(np.argmax(energy[k]), energy[k].shape)
            true = grid.cell_of_pixel(t.pixel[k, 0])
            hits += max(abs(peak[0] - true[0]), abs(peak[1] - true[1])) <= 1
    assert len(frames) >= 12, len(frames)
    assert hits / len(frames) >= 0.9, (hits, len(frames))
