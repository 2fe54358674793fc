"""Microphone calibration from a recording of a broadband reference source at a known place.

What it estimates, per microphone:

- **faults, each with its reason**, from the recorded samples: ``dead`` (no signal), ``stuck``
  (a constant DC value), ``clipping`` (a pile-up of samples at the channel's extremes); then,
  from the cross-spectral matrix, ``noisy`` (power the source does not explain, well above the
  array's median), ``inverted`` (gain phase near 180 degrees across the band), and ``swapped``
  (a pair whose residual delays are each the other's geometry: the source's path to one
  capsule arrives on the other's channel; seen when the two paths differ by more than ~5 cm,
  so place the source well off the array's axis);
- **complex gain per bin** relative to the array model: the principal eigenvector of the
  cross-spectral matrix (averaged over the recording, per bin) divided by the modelled steering
  vector to the source, exp(-2j pi f r_m / c) / r_m, normalised so that the array's median gain
  is 1 and the mean phase 0 (a common factor calibration cannot see, and beamforming ignores).
  Position errors of the capsules show up as part of this gain, for the source's direction.

Dead, stuck, clipping, noisy and swapped microphones are excluded from beamforming; an inverted
one is kept, its gain carries the sign.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..beamform.spectra import spectra
from ..constants import NFFT, SPEED_OF_SOUND
from ..errors import AcamError
from ..framing import bin_frequencies, make_window
from ..io.calibration import Calibration, Fault, MicCalibration
from ..io.session import open_session

BAND = (500.0, 5000.0)  # Hz: where a 12 kHz recording of a loudspeaker carries energy
SWAP_MIN_DELAY = 150e-6  # s: beyond any capsule's own delay error (+-50 us) and position error
SWAP_TOLERANCE = 60e-6  # s per capsule of the pair: its own delay and position error
NOISY_EXCESS = 0.01  # fraction of a channel's power beyond the array's median unexplained part


def channel_faults(stats: dict) -> list[Fault]:
    """Dead, stuck and clipping channels from per-channel sample statistics (see
    :func:`channel_stats`)."""
    std, mean, peak, at_peak = stats["std"], stats["mean"], stats["peak"], stats["at_peak"]
    live = std[std > 0]
    med = float(np.median(live)) if live.size else 0.0
    faults = []
    for m in range(std.size):
        if std[m] <= 1e-3 * med:
            if abs(mean[m]) <= 1e-3 * med:
                faults.append(Fault(m, "dead", True, f"no signal: RMS {_db(std[m], med)} below the array's median"))
            else:
                faults.append(Fault(m, "stuck", True, f"constant output of {mean[m]:.4g} Pa (no AC signal)"))
        elif at_peak[m] > 1e-3:
            faults.append(Fault(m, "clipping", True, f"{100 * at_peak[m]:.1f} % of samples at +-{peak[m]:.4g} Pa"))
    return faults


def _db(x, ref):
    return "-inf dB" if x <= 0 else f"{20 * np.log10(ref / x):.0f} dB"


def channel_stats(session, block: int = 65536) -> dict:
    n, m = session.n_samples, session.n_channels
    s1, s2, peak = np.zeros(m), np.zeros(m), np.zeros(m)
    for a in range(0, n, block):
        x = session.audio(a, min(n, a + block)).astype(np.float64)
        s1 += x.sum(0)
        s2 += (x * x).sum(0)
        peak = np.maximum(peak, np.abs(x).max(0))
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
    at = np.zeros(m)
    for a in range(0, n, block):
        x = session.audio(a, min(n, a + block))
        at += (np.abs(x) >= 0.999 * peak).sum(0)
    return {"std": std, "mean": mean, "peak": peak, "at_peak": np.where(peak > 0, at / n, 0.0)}


def cross_spectra(session, mics: np.ndarray, k0: int, k1: int, nfft: int = NFFT,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The cross-spectral matrix (k1 - k0, M, M), summed over half-overlapping Hann frames of
    the whole recording, for the given microphones and bins."""
    win = make_window("hann", nfft)
    hop = nfft // 2
    starts = np.arange(0, session.n_samples - nfft + 1, hop)
    if starts.size == 0:
        raise AcamError(f"{session.path}: the recording is shorter than one frame of {nfft} samples")
    C = np.zeros((k1 - k0, mics.size, mics.size), np.complex128)
    batch = 32
    for i in range(0, starts.size, batch):
        s = starts[i:i + batch]
        block = session.audio(int(s[0]), int(s[-1]) + nfft)
        frames = np.stack([block[t - s[0]:t - s[0] + nfft][:, mics] for t in s])
        X = spectra(frames, win)[:, :, k0:k1].astype(np.complex128)  # (n, M, F)
        C += np.einsum("nmf,nkf->fmk", X, X.conj())
        if progress:
            progress(min(starts.size, i + batch), starts.size)
    return C


def calibrate_microphones(session_path, source_position, band=BAND, nfft: int = NFFT,
                          progress: Callable[[int, int], None] | None = None) -> Calibration:
    """A :class:`Calibration` holding the microphones' gains and faults, from a session
    recording a broadband source at ``source_position`` (x, y, z metres, array frame)."""
    pos = np.asarray(source_position, float)
    if pos.shape != (3,) or not np.all(np.isfinite(pos)):
        raise AcamError(f"--source: expected X,Y,Z in metres, found {source_position!r}")
    with open_session(session_path) as s:
        geom = s.geometry
        freqs = bin_frequencies(s.sample_freq, nfft)
        lo, hi = band
        inband = np.flatnonzero((freqs >= lo) & (freqs <= hi))
        if inband.size < 8:
            raise AcamError(f"--band {lo:g}:{hi:g}: expected at least 8 frequency bins, found {inband.size}")
        k0, k1 = int(inband[0]), int(inband[-1]) + 1
        faults = channel_faults(channel_stats(s))
        out = {f.mic for f in faults} | set(np.flatnonzero(geom.bad).tolist())
        use = np.array([m for m in range(geom.n_mics) if m not in out])
        C = cross_spectra(s, use, k0, k1, nfft, progress)
        sha = s.time_data_sha256()
        source = {"path": str(session_path), "time_data_sha256": sha}
    f = freqs[k0:k1]
    # the source's rank-1 part, fitted to the cross terms: the diagonal (which uncorrelated
    # self-noise inflates) is replaced by the fit's own, a few times over
    diag = np.real(np.einsum("fmm->fm", C))
    D, ii = C.copy(), np.arange(use.size)
    for _ in range(3):
        lam, V = np.linalg.eigh(D)
        v = V[:, :, -1] * np.sqrt(lam[:, -1:])  # (F, M_use)
        D[:, ii, ii] = np.abs(v) ** 2
    r = np.linalg.norm(geom.positions[use] - pos, axis=1)
    a = np.exp(-2j * np.pi * f[:, None] * r[None] / SPEED_OF_SOUND) / r[None]
    g = v / a
    g = g / (np.median(np.abs(g), axis=1, keepdims=True) * np.exp(1j * np.angle(np.sum(g / np.abs(g), axis=1, keepdims=True))))

    # power the source does not explain, as a fraction of each channel's own; the array's
    # median fraction (frame-edge and estimation losses) is the baseline
    resid = np.mean(np.clip(1 - np.abs(v) ** 2 / diag, 0, None), axis=0)
    med_resid = float(np.median(resid))
    spread = 1.4826 * float(np.median(np.abs(resid - med_resid)))
    for i, m in enumerate(use):
        if resid[i] - med_resid > max(NOISY_EXCESS, 8 * spread):
            faults.append(Fault(int(m), "noisy", True, f"{100 * resid[i]:.1f} % of its power uncorrelated with the source, "
                                                      f"against the array's median {100 * med_resid:.1f} % (excess self-noise)"))
    # residual delay per microphone: the slope of the gain's phase over the band
    ph = np.unwrap(np.angle(g), axis=0)
    slope = np.polyfit(f, ph, 1)[0]  # rad per Hz, per microphone
    tau = -slope / (2 * np.pi)
    mean_phase = np.angle(np.mean(g / np.abs(g), axis=0))
    noisy = {ft.mic for ft in faults}
    suspects = [i for i in range(use.size) if abs(tau[i]) > SWAP_MIN_DELAY and use[i] not in noisy]
    paired = set()
    for i in suspects:
        if i in paired:
            continue
        best, err = None, np.inf
        for j in suspects:
            if j == i or j in paired:
                continue
            e = abs(tau[i] - (r[j] - r[i]) / SPEED_OF_SOUND) + abs(tau[j] - (r[i] - r[j]) / SPEED_OF_SOUND)
            if e < err:
                best, err = j, e
        if best is not None and err < 2 * SWAP_TOLERANCE:
            paired |= {i, best}
            for x, y in ((i, best), (best, i)):
                faults.append(Fault(int(use[x]), "swapped", True, f"carries microphone {use[y]}'s signal (residual delay "
                                                                 f"{tau[x] * 1e6:.0f} us, that geometry {(r[y] - r[x]) / SPEED_OF_SOUND * 1e6:.0f} us)"))
    for i in suspects:
        if i not in paired:
            faults.append(Fault(int(use[i]), "delay", True, f"residual delay {tau[i] * 1e6:.0f} us, beyond any capsule's "
                                                          f"({SWAP_MIN_DELAY * 1e6:.0f} us): wiring or position fault"))
    flagged = {ft.mic for ft in faults}
    for i, m in enumerate(use):
        if m not in flagged and abs(mean_phase[i]) > np.radians(150):
            faults.append(Fault(int(m), "inverted", False, f"gain phase {np.degrees(mean_phase[i]):.0f} deg across the band "
                                                         "(corrected by its gain)"))

    gains = np.ones((geom.n_mics, freqs.size), complex)
    gi = np.ones((geom.n_mics, f.size), complex)
    gi[use] = g.T
    gains[:, k0:k1] = gi
    gains[:, :k0] = gi[:, :1]
    gains[:, k1:] = gi[:, -1:]
    excluded = {ft.mic for ft in faults if ft.exclude}
    gains[sorted(excluded)] = 1.0
    mic = MicCalibration(freqs, gains, (float(lo), float(hi)), tuple(pos), tuple(sorted(faults, key=lambda x: x.mic)))
    return Calibration(microphones=mic, sources=(source,))
