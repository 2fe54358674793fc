import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# libjack starts a JACK server for any client that finds none (PortAudio's device scan is one):
# the live tests start their own, and a test on another worker must not start one under them
os.environ.setdefault("JACK_NO_START_SERVER", "1")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on CI's two cores: one BLAS/OpenMP thread each, or torch's
    # and OpenBLAS's spinning threads fight over the cores the other worker needs
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

ACAM = [sys.executable, "-m", "acoustic_camera"]


@pytest.fixture(scope="session")
def small_geometry():
    """A 32-mic random planar layout: quick simulations with the physics of the full array."""
    from acoustic_camera.array.geometry import ArrayGeometry

    rng = np.random.default_rng(7)
    p = np.c_[rng.uniform(-0.2, 0.2, (32, 2)), np.zeros(32)]
    return ArrayGeometry(p, name="random32")


def run_acam(*args, check=True, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([*ACAM, *map(str, args)], capture_output=True, text=True, check=check, env=env, **kw)


MODEL_CLASSES = ("clapping", "whistling", "knocking")


def model_sessions(specs, geometry=None):
    """(session, acoustic file) pairs for specs (folder, name, label, seconds, seed[, scenario]) on the
    DualCam array: simulated two at a time (one per core: a simulation is single-threaded), then
    beamformed (MFCC + energy). ``label``: one walking source of that class, or a tuple of
    SourceSpec. ``geometry``: another array than the DualCam's (quicker to simulate)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from acoustic_camera import preset
    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    jobs = [(SimConfig(scenario=rest[0] if rest else "anechoic", duration=seconds, seed=seed, geometry=geometry or preset("dualcam128"),
                       sources=(SourceSpec(label, motion="walk"),) if isinstance(label, str) else tuple(label)),
             d / f"{name}.h5")
            for d, name, label, seconds, seed, *rest in specs]
    # spawned, not forked: this process may already run numba's worker threads
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1), mp_context=multiprocessing.get_context("spawn")) as pool:
        for f in [pool.submit(simulate_to_file, cfg, path) for cfg, path in jobs]:
            f.result()
    pairs = []
    for _, s in jobs:
        a = s.with_name(s.stem + ".acoustic.h5")
        beamform_session(s, a, features=("mfcc", "energy"), backend="numba")
        pairs.append((s, a))
    return pairs


def two_figure_specs(folder, prefix: str, n: int, seed0: int, seconds: float = 10.0, motion: str = "static"):
    """model_sessions specs of n sessions each with a heard figure and a silent one (drawn performing,
    radiating nothing) of two of MODEL_CLASSES: every ordered pair of classes once in six sessions.
    Static figures stand on opposite sides, the heard one left and right in turn, at places that
    change from session to session; walking ones go where the simulator takes them."""
    from acoustic_camera.sim.trajectories import SourceSpec

    specs = []
    for i in range(n):
        heard, silent = MODEL_CLASSES[i % 3], MODEL_CLASSES[(i + 1 + (i // 3) % 2) % 3]
        if motion == "static":
            side, x, z = (-1) ** i, 0.6 + 0.1 * (i % 4), 2.5 + 0.25 * (i % 3)
            pair = (SourceSpec(heard, position=(side * x, 0.1, z)), SourceSpec(silent, position=(-side * x, 0.1, z), silent=True))
        else:
            pair = (SourceSpec(heard, motion), SourceSpec(silent, motion, silent=True))
        specs.append((folder, f"{prefix}{i:03d}_{heard}_{silent}", pair, seconds, seed0 + i))
    return specs


def _made_once(tmp_path_factory, name: str, make):
    """``make(folder)`` -> a JSON-able result, run once per test run even with pytest-xdist's
    workers: the first to take the lock makes it in a folder they share, the others wait and
    read what it wrote."""
    import fcntl
    import json

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder, done = root / name, root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder.mkdir(exist_ok=True)
            done.write_text(json.dumps(make(folder), default=float))
        return json.loads(done.read_text())


@pytest.fixture(scope="session")
def dualcamnet_teacher(models_dataset, tmp_path_factory):
    """DualCamNet trained once (4 epochs) on the models' dataset: (checkpoint path, metrics)."""
    from acoustic_camera.models.train import TrainConfig, train

    def make(out):
        m = train(TrainConfig(role="teacher", model="dualcamnet", epochs=4, batch_size=16, seed=0), models_dataset["train"],
                  out, progress=False)
        return {"checkpoint": str(out / "best.pt"), "metrics": m}

    r = _made_once(tmp_path_factory, "dualcamnet", make)
    return Path(r["checkpoint"]), r["metrics"]


@pytest.fixture(scope="session")
def models_dataset(tmp_path_factory):
    """The models' small simulated dataset on the DualCam array (anechoic, 3 classes): nine 20-s
    training sessions in ``train/`` and three 10-s held-out sessions (other seeds) in ``heldout/``.
    ~1 min to make; shared by the model tests (and by pytest-xdist's workers)."""
    def make(root):
        (root / "train").mkdir()
        (root / "heldout").mkdir()
        pairs = model_sessions([(root / "train", f"{label}{i}", label, 20.0, i) for i, label in enumerate(MODEL_CLASSES * 3)]
                               + [(root / "heldout", f"heldout_{label}", label, 10.0, 100 + i)
                                  for i, label in enumerate(MODEL_CLASSES)])
        return {"root": str(root), "pairs": [[str(s), str(a)] for s, a in pairs]}

    r = _made_once(tmp_path_factory, "models", make)
    pairs = [(Path(s), Path(a)) for s, a in r["pairs"]]
    return {"root": Path(r["root"]), "train": pairs[:9], "heldout": pairs[9:]}


def assert_agree(out, ref, rtol=1e-4):
    """Stated tolerance: every element within rtol of the reference, relative to the element
    where it is >= 1e-3 of the volume's peak and to 1e-3 of the peak below that (float32
    sums of 128 terms cannot do better on values cancelled far below the peak)."""
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    scale = np.maximum(np.abs(ref), 1e-3 * np.abs(ref).max())
    err = np.abs(out - ref) / scale
    assert err.max() <= rtol, f"max relative error {err.max():.2e}"


SHARED_MADE_ONCE = ("models_dataset", "dualcamnet_teacher")


@pytest.fixture(autouse=True)
def _one_realtime_test_at_a_time(request, tmp_path_factory):
    """Tests marked ``realtime`` (a JACK server, a real-time capture, a browser watching the live
    view) run one at a time across the xdist workers: two at once on CI's two cores, each with
    its own jackd or Chromium, starved the dummy driver into an input overflow."""
    if request.node.get_closest_marker("realtime") is None:
        yield
        return
    import fcntl

    with open(tmp_path_factory.getbasetemp().parent / "acam-realtime.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def pytest_collection_modifyitems(config, items):
    """Order for two workers around the models' shared dataset and teacher (made once, minutes of
    work, behind a lock). Work stealing hands each worker a contiguous half of the list and
    steals from the tail. So: one test that needs the teacher goes first (its worker makes the
    dataset and the teacher at its start), every other test on them goes last (the other worker
    meets them only after its own half, when they are made), everything else between. Spread
    at random, the second worker sat at the lock (400 s on CI's two cores); all at the front, one
    worker ran the whole models chain alone (16 min)."""
    def uses(item):
        return set(SHARED_MADE_ONCE) & set(getattr(item, "fixturenames", ()))

    maker = next((i for i in items if "dualcamnet_teacher" in getattr(i, "fixturenames", ())), None)
    if maker is None:
        return
    shared = [i for i in items if uses(i) and i is not maker]
    rest = [i for i in items if not uses(i)]
    items[:] = [maker] + rest + shared
