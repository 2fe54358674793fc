"""The frequency-domain filter-and-sum beamformer: samples in, acoustic-image volumes out.

    from acoustic_camera import preset, Camera
    from acoustic_camera.beamform import Beamformer

    bf = Beamformer(preset("dualcam128"), Camera(), sample_freq=12000)
    volumes = bf(samples)      # samples (frames, 1024, 128) -> (frames, 36, 48, 512) float32

Look points: :mod:`acoustic_camera.array.grid`; weights and levels: :mod:`.steering`; the frame
window: :mod:`acoustic_camera.framing`; spectrum scaling: :mod:`.spectra`; the arithmetic: a
backend of :mod:`acoustic_camera.kernels`.
"""

from __future__ import annotations

import numpy as np

from ..array.camera import Camera
from ..array.geometry import ArrayGeometry
from ..array.grid import make_grid
from ..constants import FOCUS_DISTANCE, GRID_SHAPE, NFFT, SPEED_OF_SOUND, WINDOW
from ..errors import AcamError
from ..framing import ALIGNMENT, bin_frequencies, make_window
from ..kernels.base import get_backend
from .spectra import SCALING, spectra
from .steering import steering_plan


class Beamformer:
    """A beamformer for one array, camera and sample rate.

    Args:
        grid: (rows, cols) of the acoustic image (default 36 x 48).
        focus_distance: metres to the focus plane, or None for the far field.
        nfft: samples per acoustic frame; bins 0 .. nfft/2-1 are kept.
        window: see :func:`.spectra.make_window` (default Tukey 0.75).
        steering: 'classic', 'inverse', 'true level' or 'true location' (:mod:`.steering`).
        shading: (M,) non-negative per-microphone weights (default 1).
        calibration: (M,) or (M, nfft/2) complex per-microphone gains g applied to the spectra.
        backend: 'auto', 'numpy', 'numba' or 'cupy'.
    """

    def __init__(self, geometry: ArrayGeometry, camera: Camera, sample_freq: float, *,
                 grid: tuple[int, int] = GRID_SHAPE, focus_distance: float | None = FOCUS_DISTANCE,
                 nfft: int = NFFT, window: str = WINDOW, steering: str = "classic",
                 shading=None, calibration=None, backend: str = "auto", c: float = SPEED_OF_SOUND):
        if nfft < 2 or nfft % 2:
            raise AcamError(f"--nfft: expected a positive even number of samples, found {nfft}")
        self.geometry, self.camera, self.sample_freq = geometry, camera, float(sample_freq)
        self.nfft, self.window_name, self.steering, self.c = nfft, window, steering, c
        from ..options import check_memory

        rows, cols = grid
        # the plan (delays and amplitudes per look point and microphone) and a few volumes in flight
        check_memory(rows * cols * (geometry.n_mics * 16 + (nfft // 2) * 4 * 4), "the beamformer's plan and volumes",
                     f"--grid {rows}x{cols}, --nfft {nfft}, {geometry.n_mics} microphones")
        self.window = make_window(window, nfft)
        self.freqs = bin_frequencies(self.sample_freq, nfft)
        self.grid = make_grid(camera, grid, focus_distance)
        self.good = geometry.good
        self.plan = steering_plan(geometry, self.grid, self.freqs, steering, shading, c)
        self.calibration = None
        if calibration is not None:
            g = np.asarray(calibration, dtype=np.complex128)
            g = g[:, None] if g.ndim == 1 else g
            if g.shape[0] != geometry.n_mics or g.shape[1] not in (1, self.freqs.size):
                raise AcamError(f"calibration must be ({geometry.n_mics},) or ({geometry.n_mics}, {self.freqs.size}), got {g.shape}")
            self.calibration = np.ascontiguousarray(
                np.broadcast_to(g, (geometry.n_mics, self.freqs.size))[self.good], dtype=np.complex64)  # (M_good, F)
        self.backend = get_backend(backend)
        # tables and compiled kernels are loaded here, not on the first frames: a live view's
        # first image, or a new process's first batch, then comes at full speed
        prepare = getattr(self.backend, "prepare", None)
        if prepare is not None:
            prepare(self.plan)

    def params(self) -> dict:
        """Every parameter that shapes the images, as stored with them."""
        return {"nfft": self.nfft, "window": self.window_name, "steering": self.steering, "c": self.c,
                "grid": [self.grid.rows, self.grid.cols], "focus_distance": self.grid.focus_distance,
                "backend": self.backend.name, "calibrated": self.calibration is not None,
                "frame_window": f"{ALIGNMENT} on the frame timestamp: [s_k - nfft/2, s_k + nfft/2), "
                                "zero-padded past the ends",
                "spectrum_scaling": SCALING}

    @property
    def volume_shape(self) -> tuple[int, int, int]:
        return self.grid.rows, self.grid.cols, self.freqs.size

    def spectra(self, samples: np.ndarray) -> np.ndarray:
        """(N, nfft, M) or (nfft, M) samples -> (N, M_good, F) complex64 (calibrated)."""
        s = np.asarray(samples)
        if s.ndim == 2:
            s = s[None]
        if s.ndim != 3 or s.shape[1:] != (self.nfft, self.geometry.n_mics):
            raise AcamError(f"samples must be (frames, {self.nfft}, {self.geometry.n_mics}), got {s.shape}")
        X = spectra(s, self.window, self.good)
        return X * self.calibration[None] if self.calibration is not None else X

    def power(self, X) -> np.ndarray:
        """Spectra (N, M_good, F) -> power volumes (N, rows, cols, F) float32."""
        p = self.backend.power(self.plan, X)
        return p.reshape(p.shape[0], self.grid.rows, self.grid.cols, p.shape[-1])

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """Samples (N, nfft, M) or (nfft, M) -> volumes (N, rows, cols, F) float32."""
        return self.power(self.spectra(samples))
