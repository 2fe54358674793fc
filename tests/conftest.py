import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ACAM = [sys.executable, "-m", "acoustic_camera"]


@pytest.fixture(scope="session")
def small_geometry():
    """A 32-mic random planar layout: quick simulations with the physics of the full array."""
    from acoustic_camera.geometry import ArrayGeometry

    rng = np.random.default_rng(7)
    p = np.c_[rng.uniform(-0.2, 0.2, (32, 2)), np.zeros(32)]
    return ArrayGeometry(p, name="random32")


def run_acam(*args, check=True, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([*ACAM, *map(str, args)], capture_output=True, text=True, check=check, env=env, **kw)
