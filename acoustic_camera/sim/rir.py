"""Room impulse responses for many microphones at once, and streaming multichannel convolution.

pyroomacoustics supplies the image sources (positions and wall damping); building the 128
impulse responses from them is done here in one Numba kernel, because pyroomacoustics builds
one microphone at a time (~60 ms for 128 microphones), too slow to rebuild every few
milliseconds along a moving source's path.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..constants import SPEED_OF_SOUND
from ..errors import AcamError
from ..jitcache import cached
from scipy import fft as sfft

#: Half-length of the windowed-sinc fractional-delay filter (taps = 2 * HALF_WIDTH).
HALF_WIDTH = 16


@cached
@numba.njit
def _build(images, gains, mics, mic_gain, mic_shift, fs_over_c, half, out):
    n_mics, length = out.shape
    taps = 2 * half
    # cos/sin of pi*i/half for the Hann window by the angle-sum identity: no trig per tap
    ci = np.empty(taps)
    si = np.empty(taps)
    for j in range(taps):
        ci[j] = math.cos(math.pi * (j - half + 1) / half)
        si[j] = math.sin(math.pi * (j - half + 1) / half)
    for m in range(n_mics):
        for k in range(images.shape[0]):
            dx = images[k, 0] - mics[m, 0]
            dy = images[k, 1] - mics[m, 1]
            dz = images[k, 2] - mics[m, 2]
            d = math.sqrt(dx * dx + dy * dy + dz * dz)
            t = d * fs_over_c + mic_shift[m] + half  # offset by `half` so every tap index is >= 0
            n0 = int(math.floor(t))
            frac = t - n0
            amp = gains[k] * mic_gain[m] / max(d, 1e-3)
            # sin(pi (i - frac)) = -(-1)^i sin(pi frac): one sin per image, not per tap
            s = math.sin(math.pi * frac) * amp / math.pi
            cf = math.cos(math.pi * frac / half)
            sf = math.sin(math.pi * frac / half)
            start = n0 - half + 1
            for j in range(taps):
                n = start + j
                if n < 0 or n >= length:
                    continue
                i = j - half + 1
                x = i - frac
                w = 0.5 + 0.5 * (ci[j] * cf + si[j] * sf)
                if abs(x) < 1e-9:
                    out[m, n] += amp * w
                else:
                    sign = -1.0 if (i % 2 == 0) else 1.0
                    out[m, n] += sign * s / x * w


def rir_length(images: np.ndarray, mics: np.ndarray, fs: float, c: float = SPEED_OF_SOUND) -> int:
    """Samples needed to hold the responses of these image sources at these microphones."""
    d = np.sqrt(((images[:, None, :] - mics[None, :, :]) ** 2).sum(-1)).max()
    return int(math.ceil(d * fs / c)) + 2 * HALF_WIDTH + 2


def build_rirs(images: np.ndarray, gains: np.ndarray, mics: np.ndarray, fs: float,
               length: int | None = None, c: float = SPEED_OF_SOUND, mic_gain=None, mic_delay=None) -> np.ndarray:
    """Impulse responses (M, length) float32 from image sources (K, 3) with amplitude gains (K,)
    (wall damping products) to microphones (M, 3), with 1/r spreading: a source signal given as
    the pressure at 1 m yields the pressure at the microphone. Index i holds delay
    ``i - HALF_WIDTH`` samples: every response is delayed by HALF_WIDTH samples so that the
    windowed-sinc fractional delay (2*HALF_WIDTH taps, Hann window) stays causal.
    ``mic_gain`` (M,) and ``mic_delay`` (M,) seconds: a non-ideal capsule's sensitivity and
    delay (at most HALF_WIDTH samples; default 1 and 0)."""
    images = np.ascontiguousarray(images, dtype=np.float64)
    mics = np.ascontiguousarray(mics, dtype=np.float64)
    n = mics.shape[0]
    g = np.ones(n) if mic_gain is None else np.ascontiguousarray(mic_gain, dtype=np.float64)
    shift = np.zeros(n) if mic_delay is None else np.ascontiguousarray(mic_delay, dtype=np.float64) * fs
    if np.any(np.abs(shift) > HALF_WIDTH):
        raise AcamError(f"microphone delay: expected at most {HALF_WIDTH} samples, found {np.abs(shift).max():.1f}")
    if length is None:
        length = rir_length(images, mics, fs, c) + int(math.ceil(max(shift.max(), 0.0)))
    out = np.zeros((n, length), dtype=np.float64)
    _build(images, np.ascontiguousarray(gains, dtype=np.float64), mics, g, shift, fs / c, HALF_WIDTH, out)
    return out.astype(np.float32)


def fibonacci_sphere(n: int, rng: np.random.Generator) -> np.ndarray:
    """n nearly uniform unit vectors (n, 3), randomly rotated."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    v = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], -1)
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.diag(r))
    return v @ q.T


def plane_wave_irs(mics: np.ndarray, directions: np.ndarray, spectra: np.ndarray, nfft: int, fs: float,
                   c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Multichannel responses (M, nfft) float32 of plane waves arriving from unit `directions`
    (K, 3) (pointing from the array towards where the wave comes from), each with its own
    complex spectrum (K, nfft//2+1) at the array centre. Delays are applied in the frequency
    domain, so each response is the exact band-limited (circular) shift: leave headroom of a
    few dozen samples at both ends of the spectra's time support."""
    freqs = np.fft.rfftfreq(nfft, 1 / fs)
    out = np.zeros((mics.shape[0], freqs.size), dtype=np.complex128)
    for k in range(directions.shape[0]):
        lead = mics @ directions[k] / c  # mics nearer the source hear the wave earlier
        out += spectra[k][None, :] * np.exp(2j * np.pi * freqs[None, :] * lead[:, None])
    return sfft.irfft(out, nfft, axis=-1).astype(np.float32)


def diffuse_irs(mics: np.ndarray, envelope: np.ndarray, fs: float, rng: np.random.Generator,
                n_waves: int = 48, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """A diffuse-field multichannel response (M, len(envelope)): independent noise plane waves
    from `n_waves` directions spread over the sphere, each shaped by `envelope`, so that the
    inter-microphone coherence approaches sinc(k d) as in a reverberant room. Unit variance per
    microphone times the envelope."""
    n = len(envelope)
    pad = int(math.ceil(np.abs(mics).max() * 2 * fs / c)) + 8
    nfft = sfft.next_fast_len(n + 2 * pad)
    noise = np.zeros((n_waves, nfft))
    noise[:, pad:pad + n] = rng.standard_normal((n_waves, n)) * envelope / math.sqrt(n_waves)
    spectra = sfft.rfft(noise, axis=-1)
    irs = plane_wave_irs(mics, fibonacci_sphere(n_waves, rng), spectra, nfft, fs, c)
    return np.ascontiguousarray(irs[:, pad:pad + n])


class StreamConvolver:
    """Streams B input signals through a fixed (B, M, L) bank of impulse responses, summing
    over inputs: out[:, m] = sum_b x_b * h[b, m]. Overlap-add in blocks; bounded memory."""

    def __init__(self, irs: np.ndarray, block: int = 4096):
        irs = np.asarray(irs, dtype=np.float32)
        if irs.ndim == 2:
            irs = irs[None]
        self.n_in, self.n_out, self.length = irs.shape
        self.block = block
        self.nfft = sfft.next_fast_len(block + self.length - 1, real=True)
        self._H = sfft.rfft(irs, self.nfft, axis=-1).astype(np.complex64)  # (B, M, F)
        self._tail = np.zeros((self.n_out, self.length - 1), dtype=np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        """x (B, n) -> (M, n): the next n output samples."""
        x = np.asarray(x, dtype=np.float32).reshape(self.n_in, -1)
        n = x.shape[1]
        out = np.empty((self.n_out, n), dtype=np.float32)
        for s in range(0, n, self.block):
            seg = x[:, s:s + self.block]
            k = seg.shape[1]
            X = sfft.rfft(seg, self.nfft, axis=-1).astype(np.complex64)  # (B, F)
            Y = np.einsum("bmf,bf->mf", self._H, X) if self.n_in > 1 else self._H[0] * X[0]
            y = sfft.irfft(Y, self.nfft, axis=-1, workers=-1)[:, : k + self.length - 1]
            y[:, : self.length - 1] += self._tail
            out[:, s:s + k] = y[:, :k]
            self._tail = y[:, k:].copy()  # always L-1 samples long
        return out
