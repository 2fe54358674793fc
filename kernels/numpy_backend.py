"""The reference backend: the formulation in numpy, in complex128, bins in blocks so memory stays
bounded (a full 512-bin steering table for 1728 points x 128 mics is ~0.9 GB in complex64)."""

from __future__ import annotations

import numpy as np

from . import formulation


class NumpyBackend:
    name = "numpy"
    block = 16  # bins per block: 16 x 1728 x 128 x 16 B = 57 MB of complex128 steering

    def power(self, plan, X):
        plan.check(X)
        return formulation.power(np, plan, np.asarray(X), self.block, dtype=np.complex128)
