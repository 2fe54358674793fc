"""The one backend interface of the beamforming kernels.

A backend turns frame spectra into power volumes for a fixed :class:`Plan`:

    power[n, p, f] = | sum_m  amp[p, m] * exp(+2j pi freqs[f] tau[p, m]) * X[n, m, f] |^2

with X (frames, mics, bins) complex64, the FFT's own layout (per bin this is a (points x mics)
by (mics x frames) complex matrix product, followed by |.|^2); power is (frames, points, bins)
float32, the volume layout. The numpy backend is the readable reference and the specification;
the others must agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import AcamError, BackendUnavailableError


@dataclass(frozen=True, eq=False)
class Plan:
    """What stays fixed while a session is beamformed.

    tau: (P, M) float64 steering delays in seconds (relative to the reference point);
    amp: (P, M) float64 steering amplitudes (the normalisation of the chosen formulation,
    shading and bad-microphone exclusion folded in); freqs: (F,) float64 bin frequencies,
    equally spaced (the recurrence in the fast kernels relies on it)."""

    tau: np.ndarray
    amp: np.ndarray
    freqs: np.ndarray
    cache: dict = field(default_factory=dict, repr=False)  # per-plan tables: the backends', the methods' steering

    def __post_init__(self):
        if self.tau.shape != self.amp.shape or self.tau.ndim != 2:
            raise ValueError(f"tau and amp must both be (P, M), got {self.tau.shape} and {self.amp.shape}")
        f = np.asarray(self.freqs, dtype=np.float64)
        if f.size > 1 and not np.allclose(np.diff(f), f[1] - f[0], rtol=1e-9, atol=0):
            raise ValueError("freqs must be equally spaced")

    @property
    def n_points(self) -> int:
        return self.tau.shape[0]

    @property
    def n_mics(self) -> int:
        return self.tau.shape[1]

    @property
    def n_bins(self) -> int:
        return self.freqs.size

    @property
    def df(self) -> float:
        return float(self.freqs[1] - self.freqs[0]) if self.freqs.size > 1 else 0.0

    def check(self, X) -> None:
        if X.ndim != 3 or X.shape[1] != self.n_mics or X.shape[2] != self.n_bins:
            raise ValueError(f"spectra must be (frames, mics={self.n_mics}, bins={self.n_bins}), got {tuple(X.shape)}")


class Backend(Protocol):
    name: str

    def power(self, plan: Plan, X) -> np.ndarray:
        """(N, M, F) complex64 spectra -> (N, P, F) float32 power (numpy array, or the
        backend's device array when it was given one)."""
        ...

    # optional: ``prepare(plan)`` makes whatever the backend keeps per plan (tables, compiled
    # kernels) ready ahead of the first call; the Beamformer calls it when a backend has it


BACKENDS = ("numpy", "numba", "cupy")
"""The backends, by name; ``auto`` picks cupy when a GPU is usable, else numba."""


def _cuda_driver_present() -> bool:
    # cheap: finding the driver library imports nothing; no driver means no GPU, and then CuPy
    # (seconds to import) need not be loaded at all
    import ctypes.util

    return ctypes.util.find_library("cuda") is not None or any(
        Path(d, "libcuda.so.1").exists() for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64",
                                                   "/usr/lib/wsl/lib", "/usr/local/cuda/compat"))


def gpu_available() -> bool:
    """A CUDA GPU that CuPy can use. CuPy is imported only when it is installed and a CUDA
    driver is present."""
    import importlib.util

    if importlib.util.find_spec("cupy") is None or not _cuda_driver_present():
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # a driver without a device, or a CuPy build for another CUDA: no GPU here
        return False


def get_backend(name: "str | Backend" = "auto") -> Backend:
    """``numpy`` (reference), ``numba`` (CPU), ``cupy`` (GPU), or ``auto``: cupy when a GPU
    is usable, else numba."""
    if not isinstance(name, str):  # a backend made by the caller (e.g. NumbaBackend(threads=1))
        return name
    if name == "auto":
        name = "cupy" if gpu_available() else "numba"
    if name == "numpy":
        from .numpy_backend import NumpyBackend

        return NumpyBackend()
    if name == "numba":
        from .numba_backend import NumbaBackend

        return NumbaBackend()
    if name == "cupy":
        if not gpu_available():
            raise BackendUnavailableError("--backend cupy: expected CuPy and a CUDA GPU (pip install "
                                          "'acoustic-camera[gpu]' on a machine with one), found none here")
        from .cupy_backend import CupyBackend

        return CupyBackend()
    raise AcamError(f"--backend: expected auto or one of {', '.join(BACKENDS)}, found {name!r}")


def array_module(backend: Backend):
    """The array module a backend computes with: CuPy for ``cupy``, else numpy. Code written for
    either (:mod:`.formulation`, :mod:`.estimators`, :mod:`.lowrank`) runs on the backend's device."""
    if getattr(backend, "name", None) == "cupy":
        import cupy

        return cupy
    return np
