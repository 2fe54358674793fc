"""Listening to one place in the picture: the array's audio beamformed toward a look point (``acam
listen``).

The session's samples go through a short-time Fourier transform (frames of ``nfft`` samples, hop
``nfft / 2``, square-root Hann analysis and synthesis windows, whose product sums to one: an
unchanged signal comes back exactly), are combined per bin by

- ``das``: filter-and-sum with the beamformer's own steering ``w`` (:mod:`.steering`; ``classic``
  by default), ``y = w x``: the look point's sound as heard at the array's reference point;
- ``mvdr``: minimum variance distortionless response, ``y = a^H R^-1 x / (a^H R^-1 a)``, with
  ``a`` the monopole's transfer to each microphone relative to the reference point and ``R``
  the short-time CSM of the ``csm_frames`` video frames around each STFT frame, diagonally loaded
  by ``loading`` x the mean microphone power; ``R^-1 a`` by Woodbury from the window's snapshots
  (never an M x M inverse),

and overlap-added back into a signal at the session's rate. The look point is fixed (a pixel of the
acoustic grid) or follows a simulated source's true position, interpolated to every STFT frame:
the weights then change every half frame and the overlap-add crossfades between them. Streamed
in blocks of STFT frames, so memory stays bounded for any session length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..array.camera import Camera
from ..constants import NFFT, SPEED_OF_SOUND
from ..errors import AcamError
from ..io.session import open_session
from .features import band_bins
from .steering import STEERING, point_steering

LISTEN_METHODS = ("das", "mvdr")
"""How ``acam listen`` combines the microphones."""


@dataclass(frozen=True)
class ListenSpec:
    """How to listen: the combination, its steering, band and (MVDR) covariance window."""

    method: str = "das"
    steering: str = "classic"
    band: tuple | None = None  # (lo, hi) Hz kept, hi None: up to the top; None: every bin
    csm_frames: int = 12  # MVDR: video frames of snapshots per covariance (1 s at 12 fps)
    # MVDR: diagonal loading, times the mean microphone power. Heavy on purpose: a loud interferer's
    # eigenvalue (about M x its share of the power) still stands far above it and is nulled, while
    # the looked-at source's reflections, coherent with it, are not strong enough to cancel it
    # (with 0.01 they do, indoors and outdoors; measured in the README)
    loading: float = 10.0
    nfft: int = NFFT

    def __post_init__(self):
        if self.method not in LISTEN_METHODS:
            raise AcamError(f"--method: expected one of {', '.join(LISTEN_METHODS)}, found {self.method!r}")
        if self.steering not in STEERING:
            raise AcamError(f"--steering: expected one of {', '.join(STEERING)}, found {self.steering!r}")
        if self.csm_frames < 1:
            raise AcamError(f"--csm-frames: expected at least 1 frame, found {self.csm_frames}")
        if not self.loading > 0:
            raise AcamError(f"--loading: expected > 0, found {self.loading}")
        if self.nfft < 4 or self.nfft % 4:
            raise AcamError(f"nfft: expected a multiple of 4, found {self.nfft}")


def _analysis_window(n: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))  # periodic: sums to one at hop n/2


def look_positions(session, pixel=None, truth: int | None = None, grid=None, camera: Camera | None = None):
    """A function of time (s, array) -> (len, 3) look points in the array frame: the acoustic
    grid's cell ``pixel`` (row, col) at its focus distance, or source ``truth``'s true position
    (simulated sessions) interpolated between the video frames."""
    if (pixel is None) == (truth is None):
        raise AcamError("listen: expected exactly one of --pixel ROW,COL and --truth [S]")
    if pixel is not None:
        from ..array.grid import make_grid
        from ..constants import FOCUS_DISTANCE, GRID_SHAPE

        g = make_grid(camera or session.camera, grid or GRID_SHAPE, FOCUS_DISTANCE)
        r, c = pixel
        if not (0 <= r < g.rows and 0 <= c < g.cols):
            raise AcamError(f"--pixel {r},{c}: expected ROW in 0..{g.rows - 1} and COL in 0..{g.cols - 1}")
        p = g.points[r, c]
        return lambda t: np.broadcast_to(p, (len(np.atleast_1d(t)), 3))
    t = session.truth
    if t is None:
        raise AcamError(f"{session.path}: --truth: expected a simulated session with /truth, found none")
    if not 0 <= truth < t.position.shape[1]:
        raise AcamError(f"--truth {truth}: the session has sources 0..{t.position.shape[1] - 1} ({', '.join(t.labels)})")
    times = session.frame_sample_index / session.sample_freq
    pos = t.position[:, truth].astype(np.float64)
    return lambda tt: np.stack([np.interp(tt, times, pos[:, i]) for i in range(3)], axis=-1)


def _combine(spec: ListenSpec, geometry, X, points, freqs, context, c):
    """Per STFT frame j of X (J + 2 context, M, F): the combined spectrum (J, F)."""
    tau, amp = point_steering(geometry, points, spec.steering, c=c)  # (J, M)
    ph = np.exp(2j * np.pi * freqs[None, None, :] * tau[:, :, None])  # (J, M, F)
    core = X[context:X.shape[0] - context]
    if spec.method == "das":
        return np.einsum("jmf,jmf->jf", amp[:, :, None] * ph, core)
    # MVDR: a = (r0 / r_m) exp(-2j pi f tau); R^-1 a by Woodbury over the window's snapshots
    x = np.asarray(points, dtype=np.float64)
    mics = geometry.positions[geometry.good]
    r = np.linalg.norm(x[:, None, :] - mics[None], axis=-1)
    a = (np.linalg.norm(x, axis=-1)[:, None] / r)[:, :, None] * ph.conj()  # (J, M, F)
    n = 2 * context
    out = np.empty(core.shape[0:1] + core.shape[2:], np.complex128)
    for j in range(core.shape[0]):
        S = np.moveaxis(X[j:j + n + 1], 0, -1).transpose(1, 0, 2) / np.sqrt(n + 1)  # (F, M, L)
        aj = a[j].T  # (F, M)
        G = np.matmul(np.swapaxes(S, -1, -2).conj(), S)  # (F, L, L)
        d = spec.loading * np.trace(G, axis1=-2, axis2=-1).real / S.shape[1]  # (F,)
        d = np.where(d > 0, d, 1e-30)
        b = np.matmul(np.swapaxes(S, -1, -2).conj(), aj[..., None])  # (F, L, 1)
        z = np.linalg.solve(G + d[:, None, None] * np.eye(G.shape[-1]), b)
        ra = (aj - np.matmul(S, z)[..., 0]) / d[:, None]  # R^-1 a, (F, M)
        w = ra / np.sum(aj.conj() * ra, axis=-1, keepdims=True).conj()  # w with w^H a = 1
        out[j] = np.sum(w.conj() * core[j].T, axis=-1)
    return out


def listen(session_path, *, pixel=None, truth: int | None = None, spec: ListenSpec = ListenSpec(), grid=None,
           block: int = 64, progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, float]:
    """(signal, sample rate): the session's sound from one look point, float32 Pa at the array's
    reference point, as long as the session. ``pixel``: (row, col) of the acoustic grid (default
    36 x 48, or ``grid``); ``truth``: follow simulated source S."""
    n_fft, hop = spec.nfft, spec.nfft // 2
    win = _analysis_window(n_fft)
    with open_session(session_path) as s:
        s.require_audio("listen to")
        where = look_positions(s, pixel, truth, grid)
        fs, n = s.sample_freq, s.n_samples
        freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
        keep = np.ones(freqs.size, bool)
        if spec.band is not None:
            keep[:] = False
            keep[band_bins(freqs, spec.band)] = True
        good = s.geometry.good
        n_frames = n // hop + 2  # frame j is centred on sample j * hop; the last reach past the end
        # MVDR: csm_frames video frames of snapshots, i.e. 2 csm_frames STFT frames at hop nfft/2
        context = (spec.csm_frames * int(round(fs / s.video_fps)) // hop) // 2 if spec.method == "mvdr" else 0
        out = np.zeros(n_frames * hop + n_fft, np.float64)  # from sample -nfft/2
        for j0 in range(0, n_frames, block):
            j1 = min(n_frames, j0 + block)
            a0, a1 = (j0 - context) * hop - n_fft // 2, (j1 + context - 1) * hop + n_fft // 2
            lo, hi = max(a0, 0), min(a1, n)
            seg = np.zeros((a1 - a0, int(good.sum())), np.float64)
            if hi > lo:
                seg[lo - a0:hi - a0] = s.audio(lo, hi)[:, good]
            idx = np.arange(j1 - j0 + 2 * context)[:, None] * hop + np.arange(n_fft)[None, :]
            X = np.fft.rfft(seg[idx] * win[None, :, None], axis=1).transpose(0, 2, 1)  # (frames, M, F)
            pts = where(np.arange(j0, j1) * hop / fs)
            Y = _combine(spec, s.geometry, X, pts, freqs, context, SPEED_OF_SOUND) * keep[None, :]
            y = np.fft.irfft(Y, n_fft, axis=1) * win[None, :]
            for j in range(j0, j1):
                out[j * hop:j * hop + n_fft] += y[j - j0]
            if progress:
                progress(min(j1 * hop, n), n)
    return out[n_fft // 2:n_fft // 2 + n].astype(np.float32), fs


def write_wav(path, signal: np.ndarray, sample_freq: float, overwrite: bool = False) -> None:
    """A float32 WAV at the session's rate (rounded to whole Hz, as WAV requires), written whole or
    not at all. Refuses samples that are not finite (a guard: what listens makes them finite); a
    full disk is a :class:`~acoustic_camera.errors.DiskError` naming ``path``."""
    from scipy.io import wavfile

    from ..errors import DiskError
    from ..io.atomic import atomic_output

    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: found and named just below
        x = np.asarray(signal, np.float32)
    bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1)) if x.size else ()
    if len(bad):
        raise AcamError(f"{path}: expected finite samples, found {len(bad)} NaN or infinite (or beyond float32), the "
                        f"first at sample {bad[0]} ({bad[0] / sample_freq:.3f} s); nothing written")
    with atomic_output(Path(path), overwrite=overwrite) as tmp:
        try:
            with open(tmp, "wb") as f:
                wavfile.write(f, int(round(sample_freq)), x)
        except OSError as exc:
            raise DiskError(path, exc) from None


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), both zero-meaned."""
    e = np.asarray(estimate, np.float64) - np.mean(estimate)
    r = np.asarray(reference, np.float64) - np.mean(reference)
    target = (e @ r) / (r @ r) * r
    return float(10 * np.log10(np.sum(target ** 2) / np.sum((e - target) ** 2)))
