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


MODEL_CLASSES = ("clapping", "whistling", "knocking")


def _model_session(d, name, label, seconds, seed, scenario="anechoic"):
    from acoustic_camera import preset
    from acoustic_camera.acoustic_file import beamform_session
    from acoustic_camera.simulator import SimConfig, simulate_to_file
    from acoustic_camera.trajectories import SourceSpec

    s = d / f"{name}.h5"
    simulate_to_file(SimConfig(scenario=scenario, duration=seconds, seed=seed, geometry=preset("dualcam128"),
                               sources=(SourceSpec(label, motion="walk"),)), s)
    a = d / f"{name}.acoustic.h5"
    beamform_session(s, a, features=("mfcc", "energy"), backend="numba")
    return s, a


@pytest.fixture(scope="session")
def models_dataset(tmp_path_factory):
    """The models' small simulated dataset on the DualCam array (anechoic, 3 classes): nine 20-s
    training sessions in ``train/`` and three 10-s held-out sessions (other seeds) in ``heldout/``.
    ~70 s to make; shared by the model tests."""
    root = tmp_path_factory.mktemp("models")
    (root / "train").mkdir()
    (root / "heldout").mkdir()
    pairs = [_model_session(root / "train", f"{label}{i}", label, 20.0, i) for i, label in enumerate(MODEL_CLASSES * 3)]
    held = [_model_session(root / "heldout", f"heldout_{label}", label, 10.0, 100 + i)
            for i, label in enumerate(MODEL_CLASSES)]
    return {"root": root, "train": pairs, "heldout": held}
