"""The kernels' contract: every backend, and every steering form of the shared formulation that
the GPU runs, agrees with the numpy reference (tolerance: conftest.assert_agree, 1e-4); the
fast kernel's recurrence stays exact enough over the bins between restarts; spectra match the
longhand formula; compiled kernels are cached in the user's cache dir, not in the package."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from acoustic_camera.beamform.spectra import spectra, spectra_xp
from acoustic_camera.kernels import formulation
from acoustic_camera.kernels.base import Plan, get_backend, gpu_available
from acoustic_camera.kernels.numba_backend import LANES, RESYNC, NumbaBackend
from conftest import assert_agree

FS = 12288.0


def random_plan(rng, p=200, m=24, f=40, k0=5):
    freqs = (np.arange(f) + k0) * FS / 1024
    return Plan(rng.uniform(-1.5e-3, 1.5e-3, (p, m)), rng.uniform(0.2, 1.0, (p, m)) / m, freqs)


def random_spectra(rng, n, m, f):
    return (rng.standard_normal((n, m, f)) + 1j * rng.standard_normal((n, m, f))).astype(np.complex64)


# frame counts through every path of the CPU kernel: the 'bins' kernel (1-3 frames) and the
# 'frames' kernel's blocks of 8/4/2/1; shapes that are not whole vectors of points, whole blocks
# of bins, or whole tables of the recurrence
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 13, 24])
@pytest.mark.parametrize("p,m,f", [(37, 5, 40), (2 * LANES + 3, 24, 150)])
def test_numba_matches_reference(n, p, m, f):
    rng = np.random.default_rng(n * 100 + p)
    plan = random_plan(rng, p, m, f)
    X = random_spectra(rng, n, m, f)
    assert_agree(NumbaBackend().power(plan, X), get_backend("numpy").power(plan, X))


def test_numba_reads_the_fft_layout_in_place_and_copies_others():
    # the spectra path hands the kernel a view of the FFT's (frames, bins + 1, mics) output; a
    # caller's C-contiguous (frames, mics, bins) array goes through one copy; both agree
    from acoustic_camera.kernels.numba_backend import kernel_spectra

    rng = np.random.default_rng(7)
    plan = random_plan(rng, 300, 128, 512, k0=0)
    fft_out = random_spectra(rng, 2, 513, 128)
    X = fft_out[:, :512].transpose(0, 2, 1)
    flat, sN, sK = kernel_spectra(X)
    assert (sN, sK) == (513 * 128, 128) and np.shares_memory(flat, fft_out)
    ref = get_backend("numpy").power(plan, np.ascontiguousarray(X))
    out = np.empty((2, 300, 512), np.float32)
    got = NumbaBackend(threads=1).power(plan, X, out=out)
    assert got is out
    assert_agree(out, ref)
    assert_agree(NumbaBackend().power(plan, np.ascontiguousarray(X)), ref)


def test_numba_out_buffer_is_checked():
    rng = np.random.default_rng(8)
    plan = random_plan(rng)
    X = random_spectra(rng, 2, 24, 40)
    with pytest.raises(ValueError, match=r"out must be float32 C-contiguous \(2, 200, 40\)"):
        NumbaBackend().power(plan, X, out=np.empty((2, 200, 39), np.float32))
    with pytest.raises(ValueError, match=r"spectra must be \(frames, mics=24, bins=40\)"):
        NumbaBackend().power(plan, X[:, :20])


def test_direct_formula_on_one_point():
    """y[p, f] = sum_m a[p, m] exp(+2j pi f tau[p, m]) X[m, f], power |y|^2, written out longhand."""
    rng = np.random.default_rng(2)
    plan = random_plan(rng, p=3, m=5, f=6)
    X = random_spectra(rng, 1, 5, 6)
    out = get_backend("numpy").power(plan, X)
    for p in range(3):
        for k, f in enumerate(plan.freqs):
            y = sum(plan.amp[p, m] * np.exp(2j * np.pi * f * plan.tau[p, m]) * complex(X[0, m, k]) for m in range(5))
            assert out[0, p, k] == pytest.approx(abs(y) ** 2, rel=1e-6)


@pytest.mark.parametrize("steering", ["table", "exact", "recurrence"])
def test_shared_formulation_matches(steering):
    """The GPU backend's code, every steering form, run with numpy in complex64."""
    rng = np.random.default_rng(1)
    plan = random_plan(rng, f=150)
    X = random_spectra(rng, 5, 24, 150)
    table = formulation.steering_table(np, plan.tau, plan.amp, plan.freqs) if steering == "table" else None
    if table is not None:
        assert table.shape == (150, 200, 24) and table.dtype == np.complex64
    got = formulation.power(np, plan, X, 64, table=table, steering="exact" if steering == "table" else steering)
    assert_agree(got, get_backend("numpy").power(plan, X))


def test_recurrence_stays_exact_between_restarts():
    """DualCam delays (up to the 0.45 m aperture), 512 bins, float32 recurrence restarted every
    RESYNC bins: every steering coefficient within 5e-6 of its magnitude of the exact one (float32
    rounding, ~6e-8 per step, over at most 64 steps)."""
    rng = np.random.default_rng(3)
    tau = rng.uniform(-0.45 / 343, 0.45 / 343, (64, 128))
    amp = np.full_like(tau, 1 / 128)
    freqs = np.arange(512) * FS / 1024
    W = formulation.steering_recurrence(np, tau, amp, freqs, RESYNC, np.complex64)
    exact = formulation.steering_table(np, tau, amp, freqs, np.complex128)
    assert np.abs(W - exact).max() / (1 / 128) < 5e-6


def test_spectra_match_the_formula_and_the_array_module_version():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 1024, 16)).astype(np.float32)
    good = np.ones(16, bool)
    good[[2, 9]] = False
    w = np.hanning(1024)
    X = spectra(x, w, good)
    assert X.shape == (3, 14, 512) and X.dtype == np.complex64
    ref = np.fft.rfft(x.transpose(0, 2, 1)[:, good] * w, axis=-1)[:, :, :512] * np.sqrt(2) / w.sum()
    ref[:, :, 0] /= np.sqrt(2)
    np.testing.assert_allclose(X, ref, atol=2e-6 * np.abs(ref).max())
    np.testing.assert_allclose(spectra_xp(np, x, w, good), X, atol=2e-6 * np.abs(ref).max())


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("steering", ["table", "exact", "recurrence"])
def test_cupy_matches_reference(steering):
    from acoustic_camera.kernels.cupy_backend import CupyBackend

    rng = np.random.default_rng(5)
    plan = random_plan(rng, p=1728, m=128, f=512, k0=0)
    X = random_spectra(rng, 12, 128, 512)
    assert_agree(CupyBackend(steering).power(plan, X), get_backend("numpy").power(plan, X))


# --- the compiled-kernel cache ---------------------------------------------------------------

def _python(code, cache_dir, cwd=None):
    env = dict(os.environ, ACAM_CACHE_DIR=str(cache_dir))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_kernels_are_cached_in_the_cache_dir_and_reused(tmp_path):
    code = """
        import numpy as np
        from acoustic_camera.kernels.base import Plan
        from acoustic_camera.kernels.numba_backend import _fill_tables, steering_tables
        steering_tables(Plan(np.zeros((3, 2)), np.ones((3, 2)), np.arange(4.0)))
        print(sum(_fill_tables.stats.cache_hits.values()), sum(_fill_tables.stats.cache_misses.values()))
    """
    assert _python(code, tmp_path) == "0 1"  # compiled, then written to the cache
    assert list(tmp_path.rglob("*.nbi")) and list(tmp_path.rglob("*.nbc"))
    assert _python(code, tmp_path) == "1 0"  # a new process loads it
    import acoustic_camera

    pkg = Path(acoustic_camera.__file__).parent
    assert not [p for p in pkg.rglob("*.nbi") if "_fill_tables" in p.name]


def test_a_changed_dependency_invalidates_the_cache(tmp_path):
    """A kernel built from generated code (the CPU kernel's IR in simd.py) recompiles when that
    code changes, although its own source file did not."""
    (tmp_path / "gen.py").write_text("K = 2.0\n")
    (tmp_path / "kern.py").write_text(textwrap.dedent("""
        import numba, os
        from acoustic_camera.jitcache import cached
        import gen
        @cached(depends=(gen.__file__,))
        @numba.njit
        def f(x):
            return x * 3.0
    """))
    code = """
        import kern
        kern.f(1.0)
        print(sum(kern.f.stats.cache_hits.values()))
    """
    cache = tmp_path / "cache"
    assert _python(code, cache, cwd=tmp_path) == "0"
    assert _python(code, cache, cwd=tmp_path) == "1"
    (tmp_path / "gen.py").write_text("K = 3.0  # changed\n")
    assert _python(code, cache, cwd=tmp_path) == "0"
