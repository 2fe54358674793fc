"""Features of acoustic-image volumes, as in the DualCam learning pipeline.

- MFCC per acoustic pixel, (..., 512 bins) -> (..., 12): 24 triangular mel filters from 0 to
  6400 Hz (mel = 1127 ln(1 + f/700)), natural log with a floor of 1e-3, DCT-II basis
  ``sqrt(2/24) cos(pi (m+1)/24 (k+0.5))`` for m = 0..11 (c0 dropped), lifter
  ``1 + 11 sin(pi (m+1)/22)``.  The filters are evaluated at the bins' true frequencies; pass
  ``freqs = 12.5 * arange(512)`` to reproduce the published DualCam code, which assumed a
  12.8 kHz rate.
- Band energy in dB: the power summed over the bins of a band (default 900 Hz to the top bin).

Both work on numpy or CuPy arrays (``xp``), so the GPU path runs this same code; they are the
reference. :func:`mfcc_and_energy` computes both in one pass over a CPU volume (the pipeline's
path): each bin touches the one or two mel filters it lies in, instead of a dense matmul over
all 24, and the band sum rides along.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np

from ..constants import ENERGY_BAND
from ..errors import AcamError
from ..jitcache import cached


@dataclass(frozen=True)
class MfccSpec:
    n_filters: int = 24
    f_lo: float = 0.0
    f_hi: float = 6400.0
    n_coeffs: int = 12
    floor: float = 1e-3
    lifter: int = 22


def hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * np.expm1(np.asarray(m, dtype=np.float64) / 1127.0)


def mel_filterbank(freqs: np.ndarray, spec: MfccSpec = MfccSpec()) -> np.ndarray:
    """(n_filters, F) triangular filters, equally spaced in mel, peak 1, at the given bin
    frequencies (Hz)."""
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.f_lo), hz_to_mel(spec.f_hi), spec.n_filters + 2))
    f = np.asarray(freqs, dtype=np.float64)[None, :]
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (f - lo) / (mid - lo)
    down = (hi - f) / (hi - mid)
    return np.clip(np.minimum(up, down), 0.0, None)


def dct_basis(spec: MfccSpec = MfccSpec()) -> np.ndarray:
    """(n_coeffs, n_filters) DCT-II rows for coefficients 1..n_coeffs (c0 dropped)."""
    m = np.arange(1, spec.n_coeffs + 1)[:, None]
    k = np.arange(spec.n_filters)[None, :]
    return np.sqrt(2.0 / spec.n_filters) * np.cos(np.pi * m / spec.n_filters * (k + 0.5))


def lifter_weights(spec: MfccSpec = MfccSpec()) -> np.ndarray:
    m = np.arange(1, spec.n_coeffs + 1)
    return 1.0 + (spec.lifter / 2.0) * np.sin(np.pi * m / spec.lifter)


@lru_cache(maxsize=8)
def _mfcc_matrices(freqs_key: tuple, spec: MfccSpec):
    fb = mel_filterbank(np.array(freqs_key), spec)
    return fb.T.astype(np.float32), (dct_basis(spec) * lifter_weights(spec)[:, None]).T.astype(np.float32)


def mfcc(power, freqs: np.ndarray, spec: MfccSpec = MfccSpec(), xp=np):
    """MFCC of power spectra (..., F) -> (..., n_coeffs) float32."""
    fbT, dctT = _mfcc_matrices(tuple(np.asarray(freqs, dtype=np.float64).tolist()), spec)
    mel = xp.asarray(power, dtype=xp.float32) @ xp.asarray(fbT)
    logmel = xp.log(xp.maximum(mel, xp.float32(spec.floor)))
    return (logmel @ xp.asarray(dctT)).astype(xp.float32)


def band_mask(freqs: np.ndarray, band=ENERGY_BAND) -> np.ndarray:
    lo, hi = band
    f = np.asarray(freqs)
    return (f >= lo) & (f <= (f.max() if hi is None else hi))


def band_bins(freqs: np.ndarray, band=ENERGY_BAND) -> np.ndarray:
    """Indices of the band's bins (one contiguous run); a one-line error when it holds none."""
    bins = np.flatnonzero(band_mask(freqs, band))
    if bins.size == 0:
        raise AcamError(f"--band {band[0]:g}:{'' if band[1] is None else f'{band[1]:g}'}: expected a band holding at least "
                        f"one frequency bin, found none (bins span {freqs[0]:.0f}-{freqs[-1]:.0f} Hz)")
    return bins


def band_energy_db(power, freqs: np.ndarray, band=ENERGY_BAND, xp=np):
    """10 log10 of the power summed over the band's bins, (..., F) -> (...) float32."""
    band_bins(freqs, band)
    mask = band_mask(freqs, band)
    e = xp.asarray(power, dtype=xp.float32) @ xp.asarray(mask.astype(np.float32))
    return power_db(e, xp)


def power_db(power, xp=np):
    """10 log10 of a power map, float32, floored at 1e-30 (-300 dB) so silence stays finite."""
    return (10.0 * xp.log10(xp.maximum(xp.asarray(power, dtype=xp.float32), xp.float32(1e-30)))).astype(xp.float32)


@lru_cache(maxsize=8)
def _filter_spans(freqs_key: tuple, spec: MfccSpec):
    """Each mel filter as its span of bins and the weights there: (n_filters,) start, (n_filters,)
    stop, (n_filters, widest) float32; and the (n_filters, n_coeffs) DCT-with-lifter matrix."""
    fb = mel_filterbank(np.array(freqs_key), spec)
    lo = np.zeros(fb.shape[0], np.int64)
    hi = np.zeros(fb.shape[0], np.int64)
    for j, row in enumerate(fb):
        nz = np.flatnonzero(row > 0)
        if nz.size:
            lo[j], hi[j] = nz[0], nz[-1] + 1
    w = np.zeros((fb.shape[0], max(1, int((hi - lo).max()))), np.float32)
    for j in range(fb.shape[0]):
        w[j, :hi[j] - lo[j]] = fb[j, lo[j]:hi[j]]
    return lo, hi, w, (dct_basis(spec) * lifter_weights(spec)[:, None]).T.astype(np.float32)


@cached
@numba.njit(parallel=True, nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp", "afn"})
def _fused(power, lo, hi, w, b0, b1, dct, floor, mfcc_out, energy_out):
    # fast-math only to let the sums and logs run in vector lanes: results stay within float32
    # rounding of the reference (tested)
    n = power.shape[0]
    n_filters, n_coeffs = dct.shape
    chunk = 256
    for c in numba.prange((n + chunk - 1) // chunk):
        i0 = c * chunk
        i1 = min(n, i0 + chunk)
        mel = np.empty((i1 - i0, n_filters), np.float32)
        for i in range(i0, i1):
            row = power[i]
            band = row[b0:b1]
            e = np.float32(0.0)
            for t in range(band.size):
                e += band[t]
            energy_out[i] = np.float32(10.0) * np.log10(max(e, np.float32(1e-30)))
            for j in range(n_filters):
                span = row[lo[j]:hi[j]]
                wj = w[j]
                acc = np.float32(0.0)
                for t in range(span.size):
                    acc += wj[t] * span[t]
                mel[i - i0, j] = max(acc, floor)
        logmel = np.log(mel)
        for i in range(i0, i1):
            for q in range(n_coeffs):
                acc = np.float32(0.0)
                for j in range(n_filters):
                    acc += logmel[i - i0, j] * dct[j, q]
                mfcc_out[i, q] = acc


def mfcc_and_energy(power: np.ndarray, freqs: np.ndarray, spec: MfccSpec = MfccSpec(), band=ENERGY_BAND):
    """:func:`mfcc` and :func:`band_energy_db` of a numpy power volume (..., F) in one pass:
    ((..., n_coeffs), (...)) float32, equal to theirs within float32 rounding."""
    bins = band_bins(freqs, band)
    lo, hi, w, dct = _filter_spans(tuple(np.asarray(freqs, dtype=np.float64).tolist()), spec)
    flat = np.ascontiguousarray(power, dtype=np.float32).reshape(-1, power.shape[-1])
    m = np.empty((flat.shape[0], spec.n_coeffs), np.float32)
    e = np.empty(flat.shape[0], np.float32)
    _fused(flat, lo, hi, w, int(bins[0]), int(bins[-1]) + 1, dct, np.float32(spec.floor), m, e)
    return m.reshape(power.shape[:-1] + (spec.n_coeffs,)), e.reshape(power.shape[:-1])
