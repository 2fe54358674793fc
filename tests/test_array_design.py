"""Tests of acoustic_camera.array.design and of the shipped dualcam128 layout."""

import json
import math
from importlib import resources

import numpy as np
import pytest

from acoustic_camera.array.beampattern import (
    MAINLOBE_FACTOR,
    U_MAX,
    beampattern,
    grid_layout,
    min_pair_distance,
    peak_sidelobe_level,
    psl_table,
    random_layout,
)
from acoustic_camera.array.design import DesignResult, design_layout
from acoustic_camera.array.geometry import ArrayGeometry, preset
from acoustic_camera.constants import SPEED_OF_SOUND
from acoustic_camera.errors import AcamError

from conftest import run_acam


def _design_record():
    with resources.as_file(resources.files("acoustic_camera") / "data" / "dualcam128_design.json") as p:
        return json.loads(p.read_text())


# ---------------------------------------------------------------------------- beampattern / PSL


def test_u_max_covers_camera_view():
    half_diag = math.degrees(math.atan(math.hypot(320, 240) / (320 / math.tan(math.radians(30)))))
    assert half_diag == pytest.approx(35.8, abs=0.05)
    assert U_MAX == pytest.approx(1 + math.sin(math.radians(half_diag)))
    assert U_MAX == pytest.approx(1.585, abs=0.001)


def test_beampattern_unity_at_broadside_and_symmetric():
    xy = random_layout(40, 0.3, 0.02, np.random.default_rng(5))
    assert beampattern(xy, 3000.0, 0.0, 0.0) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    u, v = rng.uniform(-1.5, 1.5, (2, 200))
    b = beampattern(xy, 3000.0, u, v)
    assert b.shape == (200,)
    np.testing.assert_allclose(b, beampattern(xy, 3000.0, -u, -v), rtol=1e-10, atol=1e-14)
    assert np.all((b >= 0) & (b <= 1 + 1e-12))
    # broadcasting, and a z column is ignored
    g = beampattern(xy[:, :2], 3000.0, u[:5, None], v[None, :7])
    assert g.shape == (5, 7)


def test_beampattern_two_mic_pair_matches_cos_squared():
    d, f = 0.05, 2500.0
    xy = np.array([[-d / 2, 0.0, 0.0], [d / 2, 0.0, 0.0]])
    u = np.linspace(-1.5, 1.5, 301)
    expected = np.cos(np.pi * f * d * u / SPEED_OF_SOUND) ** 2
    np.testing.assert_allclose(beampattern(xy, f, u, 0.0), expected, atol=1e-12)
    # along v the pair has no aperture: flat
    np.testing.assert_allclose(beampattern(xy, f, 0.0, u), 1.0, atol=1e-12)


def test_psl_empty_region_is_minus_inf():
    xy = grid_layout()
    f_vis = MAINLOBE_FACTOR * SPEED_OF_SOUND / (0.45 * U_MAX)  # ~577 Hz
    assert peak_sidelobe_level(xy, 0.95 * f_vis) == -math.inf
    assert peak_sidelobe_level(xy, 500.0) == -math.inf
    assert math.isfinite(peak_sidelobe_level(xy, 1.2 * f_vis))


def test_psl_of_dense_uniform_square_is_the_sinc_sidelobe():
    # a dense uniform 32 x 32 square (14.5 mm pitch, no grating lobe in view at 2 kHz) behaves like a
    # uniform square aperture: first sidelobe on the axes, ~ -13.2 dB
    psl = peak_sidelobe_level(grid_layout(32, 32, 0.45), 2000.0)
    assert psl == pytest.approx(-13.2, abs=0.3)
    # and on a finer grid it barely moves
    assert peak_sidelobe_level(grid_layout(32, 32, 0.45), 2000.0, n=601) == pytest.approx(psl, abs=0.1)


# ---------------------------------------------------------------------------- reference layouts


def test_grid_layout_geometry():
    g = grid_layout(16, 8, 0.45)
    assert g.shape == (128, 3)
    assert np.all(g[:, 2] == 0)
    assert g[:, 0].min() == pytest.approx(-0.225) and g[:, 0].max() == pytest.approx(0.225)
    assert g[:, 1].min() == pytest.approx(-0.225) and g[:, 1].max() == pytest.approx(0.225)
    xs = g[:16, 0]  # first row: x increasing
    ys = g[::16, 1]  # first column: y increasing
    assert np.all(g[:16, 1] == g[0, 1])
    np.testing.assert_allclose(np.diff(xs), 0.03, atol=1e-12)
    np.testing.assert_allclose(np.diff(ys), 0.45 / 7, atol=1e-12)


def test_grid_16x8_has_grating_lobe_at_6khz():
    # 30 mm x 64.3 mm pitch: grating lobes along y from ~2.7 kHz at u_max = 1.585
    psl = peak_sidelobe_level(grid_layout(16, 8), 6000.0)
    assert psl > -1.0


def test_random_layout_spacing_seeded_and_crowded_fails():
    a = random_layout(128, 0.45, 0.02, np.random.default_rng(1))
    b = random_layout(128, 0.45, 0.02, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (128, 3) and np.all(a[:, 2] == 0)
    assert np.all(np.abs(a[:, :2]) <= 0.225)
    assert min_pair_distance(a) >= 0.02
    with pytest.raises(AcamError, match="could not place"):
        random_layout(200, 0.1, 0.02, np.random.default_rng(0), max_tries=50)


def test_psl_table_shape():
    t = psl_table({"grid": grid_layout(), "rand": random_layout(128, 0.45, 0.02, np.random.default_rng(1))},
                  [1000, 6000])
    assert set(t) == {"grid", "rand"}
    assert list(t["grid"]) == [1000.0, 6000.0]
    assert t["grid"][6000.0] > -1.0
    assert -20 < t["rand"][6000.0] < -8


# ---------------------------------------------------------------------------- shipped dualcam128


def test_shipped_dualcam128_geometry():
    geo = preset("dualcam128")
    rec = _design_record()
    prm = rec["params"]
    assert geo.n_mics == 128 == prm["n_mics"]
    assert geo.name == "dualcam128"
    assert geo.names == tuple(f"mic{i:03d}" for i in range(128))
    pos = geo.positions
    assert np.all(pos[:, 2] == 0.0)
    half = prm["board_m"] / 2
    assert prm["board_m"] == 0.45
    assert np.all(np.abs(pos[:, :2]) <= half + 1e-12)
    # centred: bounding box symmetric about the origin
    np.testing.assert_allclose(pos[:, :2].max(0) + pos[:, :2].min(0), 0.0, atol=1e-12)
    assert min_pair_distance(pos) >= prm["min_spacing_m"] - 1e-12
    assert prm["min_spacing_m"] == 0.02
    assert not geo.bad.any()


def test_shipped_dualcam128_beats_random_and_grid():
    pos = preset("dualcam128").positions
    rand = random_layout(128, 0.45, 0.02, np.random.default_rng(1))
    grid = grid_layout(16, 8, 0.45)
    for f in (1000.0, 2000.0, 4000.0, 6000.0):
        p_opt = peak_sidelobe_level(pos, f)
        p_rand = peak_sidelobe_level(rand, f)
        p_grid = peak_sidelobe_level(grid, f)
        assert p_opt <= p_rand - 1.0, (f, p_opt, p_rand)
        assert p_opt <= p_grid - 1.0, (f, p_opt, p_grid)
    # PSL holds on a much finer grid than the default (no peaks hiding between grid points)
    assert peak_sidelobe_level(pos, 6000.0, n=801) <= peak_sidelobe_level(pos, 6000.0) + 0.3


def test_design_record_matches_shipped_layout():
    rec = _design_record()
    pos = preset("dualcam128").positions
    for name in ("optimized", "random (seed 1)", "grid 16x8"):
        assert set(rec["psl_table_db"][name]) >= {"1000", "2000", "3000", "4000", "5000", "6000"}
    for f, v in rec["psl_table_db"]["optimized"].items():
        assert peak_sidelobe_level(pos, float(f)) == pytest.approx(v, abs=2e-3)
    for f in ("1000", "2000", "3000", "4000", "5000", "6000"):
        assert rec["psl_table_db"]["optimized"][f] < rec["psl_table_db"]["random (seed 1)"][f]
        assert rec["psl_table_db"]["optimized"][f] < rec["psl_table_db"]["grid 16x8"][f]
    assert rec["params"]["seed"] == rec["seed"]
    assert rec["iterations"] > 0 and rec["runtime_s"] > 0


# ---------------------------------------------------------------------------- optimizer

SMALL = dict(n_mics=32, board=0.2, min_spacing=0.015, f_lo=1000.0, f_hi=5000.0, n_freqs=3, iterations=600,
             chunk=200)


def test_design_is_seeded_deterministic_and_improves():
    calls = []
    a = design_layout(seed=3, progress=lambda done, total, cost: calls.append((done, total, cost)), **SMALL)
    b = design_layout(seed=3, **SMALL)
    c = design_layout(seed=4, **SMALL)
    assert isinstance(a, DesignResult)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.cost_history == b.cost_history
    assert not np.array_equal(a.positions, c.positions)
    assert [d for d, _, _ in calls] == [200, 400, 600] and calls[-1][2] == a.cost_history[-1]
    assert len(a.cost_history) == 4
    assert a.cost_history[-1] < a.cost_history[0] - 1.0
    # constraints
    assert a.positions.shape == (32, 3) and np.all(a.positions[:, 2] == 0)
    assert np.all(np.abs(a.positions[:, :2]) <= 0.1)
    assert min_pair_distance(a.positions) >= 0.015
    # the true PSL (not just the surrogate) at the top frequency beats the start layout
    start = random_layout(32, 0.2, 0.015, np.random.default_rng(3))
    p_end = peak_sidelobe_level(a.positions, 5000.0, aperture=0.2)
    p_start = peak_sidelobe_level(start, 5000.0, aperture=0.2)
    assert p_end < p_start - 1.0
    assert set(a.psl_db) == set(a.params["design_freqs_hz"])
    assert a.psl_db[5000.0] == pytest.approx(p_end)
    assert a.params["seed"] == 3 and a.params["iterations"] == 600
    assert a.seconds > 0


def test_greedy_design_never_increases_cost():
    r = design_layout(seed=1, temperature=0.0, **SMALL)
    assert all(y <= x + 1e-9 for x, y in zip(r.cost_history, r.cost_history[1:]))
    assert r.cost_history[-1] < r.cost_history[0]
    assert r.params["temperature_db"] == 0.0


def test_design_rejects_bad_band():
    with pytest.raises(AcamError, match="no sidelobes"):
        design_layout(n_mics=8, board=0.1, min_spacing=0.01, f_lo=500, f_hi=1000, iterations=10)


def test_cli_design_writes_xml_and_json_with_every_option(tmp_path):
    r = run_acam("array", "design", "--out", tmp_path, "--name", "tiny", "--n-mics", "24", "--board", "0.2",
                 "--min-spacing", "0.015", "--iterations", "300", "--n-freqs", "3", "--seed", "7", "--p", "4",
                 "--temperature", "0", "--sigma-start", "0.02", "--oversampling", "4", "--chunk", "100", "--quiet")
    geo = ArrayGeometry.from_xml(tmp_path / "tiny.xml")
    assert geo.name == "tiny" and geo.n_mics == 24 and geo.names[0] == "mic000"
    assert np.all(np.abs(geo.positions[:, :2]) <= 0.1 + 1e-12)
    assert "seed=7" in (tmp_path / "tiny.xml").read_text()
    rec = json.loads((tmp_path / "tiny_design.json").read_text())
    assert rec["seed"] == 7 and rec["iterations"] == 300
    # the options reach the optimizer itself, not a second parser
    p = rec["params"]
    assert (p["p_norm"], p["temperature_db"], p["sigma_start_m"], p["lattice_oversampling"], p["chunk"]) == (4, 0.0, 0.02, 4, 100)
    assert len(rec["cost_history_db"]) == 1 + 300 // 100
    assert set(rec["psl_table_db"]) == {"optimized", "random (seed 1)", "grid 16x8"}
    assert "| optimized |" in r.stdout and "6000 Hz" in r.stdout
    again = run_acam("array", "design", "--out", tmp_path, "--name", "tiny", "--iterations", "10", check=False)
    assert again.returncode == 2 and "file exists" in again.stderr and again.stderr.count("\n") == 1
