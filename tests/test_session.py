"""Session file: round trip, Acoular compatibility, streaming, and one clear error per defect."""

import tracemalloc

import h5py
import numpy as np
import pytest

from acoustic_camera import AcamError, Camera, SessionFormatError, SessionWriter, open_session
from acoustic_camera.io.session import SCHEMA_VERSION
from acoustic_camera.sim.truth import truth_attrs

TRUTH_ATTRS = truth_attrs(100, "tukey0.75", [0.3])


def _write(path, geometry, seconds=2.0, fs=1000.0, with_truth=True, **kw):
    cam = Camera.with_fov(60, 64, 48)
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((int(seconds * fs), geometry.n_mics)).astype(np.float32)
    labels = ("clapping",) if with_truth else None
    with SessionWriter(path, sample_freq=fs, geometry=geometry, camera=cam, video_fps=10,
                       metadata={"scenario": "anechoic", "label": "clapping", "subject": "s1", "seed": 3},
                       source_labels=labels, truth_attrs=TRUTH_ATTRS if with_truth else None, **kw) as w:
        for k in range(int(seconds * 10)):
            idx = np.array([k * 100])
            truth = {"position": np.ones((1, 1, 3)), "pixel": np.full((1, 1, 2), 5.0),
                     "visible": np.ones((1, 1), bool), "active": np.zeros((1, 1), bool),
                     "level_db": np.full((1, 1), 60.0 + k)} if with_truth else None
            w.write_frames(np.full((1, 48, 64, 3), k, np.uint8), idx, truth)
            w.write_audio(audio[k * 100:(k + 1) * 100])
    return audio


def test_round_trip(tmp_path, small_geometry):
    g = small_geometry.with_bad([3])
    audio = _write(tmp_path / "s.h5", g)
    with open_session(tmp_path / "s.h5") as s:
        assert s.closed_cleanly and s.stop_reason == "completed" and not s.opened_after_crash
        assert s.sample_freq == 1000 and s.n_samples == 2000 and s.n_channels == 32
        np.testing.assert_array_equal(s.audio(), audio)
        np.testing.assert_array_equal(s.audio(500, 600), audio[500:600])
        assert s.n_frames == 20 and s.frame(7)[0, 0, 0] == 7
        np.testing.assert_allclose(s.frame_time, np.arange(20) * 0.1)
        np.testing.assert_array_equal(s.geometry.positions, g.positions)
        assert s.geometry.bad[3] and s.geometry.bad.sum() == 1
        assert s.camera.width == 64 and s.camera.fx == pytest.approx(Camera.with_fov(60, 64, 48).fx)
        assert s.metadata["scenario"] == "anechoic" and s.metadata["subject"] == "s1" and s.metadata["seed"] == 3
        assert s.metadata["software_version"] and s.schema_version == SCHEMA_VERSION
        assert s.truth.labels == ("clapping",) and s.truth.position.shape == (20, 1, 3)
        np.testing.assert_array_equal(s.truth.level_db[:, 0], 60.0 + np.arange(20))
        assert s.truth.window["window_samples"] == 100 and s.truth.window["window_alignment"] == "centred"
        assert s.truth.window["window"] == "tukey0.75" and s.truth.window["levels_pa"] == [0.3]
    with h5py.File(tmp_path / "s.h5") as f:
        # one chunk per video frame, compressed
        assert f["video/frames"].chunks == (1, 48, 64, 3) and f["video/frames"].compression == "gzip"
        assert f["time_data"].dtype == np.float32 and f["time_data"].attrs["sample_freq"] == 1000


def test_acoular_opens_a_session_unchanged(tmp_path, small_geometry):
    acoular = pytest.importorskip("acoular")
    audio = _write(tmp_path / "s.h5", small_geometry)
    ts = acoular.TimeSamples(file=str(tmp_path / "s.h5"))
    assert ts.sample_freq == 1000 and ts.num_channels == 32 and ts.num_samples == 2000
    got = np.concatenate(list(ts.result(256)))
    np.testing.assert_array_equal(got, audio)


def test_refuses_to_overwrite(tmp_path, small_geometry):
    _write(tmp_path / "s.h5", small_geometry)
    with pytest.raises(AcamError, match="file exists"):
        _write(tmp_path / "s.h5", small_geometry)
    _write(tmp_path / "s.h5", small_geometry, overwrite=True)


def test_writer_memory_is_bounded_and_readers_see_each_flushed_second(tmp_path, small_geometry):
    path = tmp_path / "long.h5"
    fs = 12000
    block = np.zeros((fs, small_geometry.n_mics), np.float32)
    tracemalloc.start()
    with SessionWriter(path, sample_freq=fs, geometry=small_geometry, camera=Camera.with_fov(60, 64, 48),
                       video_fps=12) as w:
        for sec in range(60):  # 60 s = 92 MB of audio written
            w.write_audio(block)
            w.write_frames(np.zeros((12, 48, 64, 3), np.uint8), sec * fs + np.arange(12) * 1000)
            if sec in (0, 30):
                # a concurrent reader (SWMR) sees everything up to the last flush
                with h5py.File(path, "r", libver="latest", swmr=True) as r:
                    assert r["time_data"].shape[0] == (sec + 1) * fs
        peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 30e6, f"writer held {peak / 1e6:.1f} MB"


def test_exception_closes_without_clean_flag(tmp_path, small_geometry):
    with pytest.raises(RuntimeError):
        with SessionWriter(tmp_path / "e.h5", sample_freq=1000, geometry=small_geometry,
                           camera=Camera.with_fov(60, 64, 48), video_fps=10) as w:
            w.write_audio(np.zeros((100, 32), np.float32))
            raise RuntimeError("device unplugged")
    with open_session(tmp_path / "e.h5") as s:
        assert not s.closed_cleanly and "device unplugged" in s.stop_reason and s.n_samples == 100


def test_keyboard_interrupt_closes_cleanly(tmp_path, small_geometry):
    with pytest.raises(KeyboardInterrupt):
        with SessionWriter(tmp_path / "k.h5", sample_freq=1000, geometry=small_geometry,
                           camera=Camera.with_fov(60, 64, 48), video_fps=10) as w:
            w.write_audio(np.zeros((100, 32), np.float32))
            raise KeyboardInterrupt
    with open_session(tmp_path / "k.h5") as s:
        assert s.closed_cleanly and "SIGINT" in s.stop_reason


def test_writer_rejects_wrong_blocks(tmp_path, small_geometry):
    with SessionWriter(tmp_path / "w.h5", sample_freq=1000, geometry=small_geometry,
                       camera=Camera.with_fov(60, 64, 48), video_fps=10) as w:
        with pytest.raises(AcamError, match=r"shape \(n, 32\)"):
            w.write_audio(np.zeros((10, 31)))
        with pytest.raises(AcamError, match="uint8"):
            w.write_frames(np.zeros((1, 48, 64, 3), np.float32), [0])
        with pytest.raises(AcamError, match="ground truth"):
            w.write_frames(np.zeros((1, 48, 64, 3), np.uint8), [0], truth={})


# -- one clear error per defect ------------------------------------------------------------
def _mutate(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


def _replace(name, data):
    def fn(f):
        del f[name]
        f[name] = data
    return fn


DEFECTS = [
    ("missing audio", lambda f: f.__delitem__("time_data"), "/time_data", "dataset"),
    ("int16 audio", _replace("time_data", np.zeros((10, 32), np.int16)), "/time_data", "float32"),
    ("1-D audio", _replace("time_data", np.zeros(10, np.float32)), "/time_data", "2 dimensions"),
    ("no rate", lambda f: f["time_data"].attrs.__delitem__("sample_freq"), "sample_freq", "finite number"),
    ("future", lambda f: f.attrs.__setitem__("acam_schema_version", SCHEMA_VERSION + 1), "acam_schema_version", "upgrade acam"),
    ("not acam", lambda f: f.attrs.__setitem__("acam_schema", "other"), "acam_schema", "acam-session"),
    ("positions", _replace("array/positions", np.zeros((31, 3))), "/array/positions", "32 rows"),
    ("frames dtype", _replace("video/frames", np.zeros((20, 48, 64, 3), np.float32)), "/video/frames", "uint8"),
    ("frames size", _replace("video/frames", np.zeros((20, 40, 64, 3), np.uint8)), "/video/frames", "(n, 48, 64, 3)"),
    ("timestamps", _replace("video/sample_index", np.zeros(20, np.int64)), "/video/sample_index", "increasing"),
    ("camera", lambda f: f["camera"].attrs.__delitem__("fx"), "/camera", "missing fx"),
    ("truth", _replace("truth/pixel", np.zeros((20, 2, 2))), "/truth/pixel", "shape"),
    ("truth level", lambda f: f.__delitem__("truth/level_db"), "/truth/level_db", "dataset"),
    ("truth window", lambda f: f["truth"].attrs.__delitem__("window_samples"), "/truth attributes", "missing window_samples"),
    ("fps", lambda f: f.attrs.__setitem__("video_fps", 0.0), "video_fps", "frames per second"),
    ("acoustic file", lambda f: f.attrs.__setitem__("acam_schema", "acam-acoustic"), "acam_schema", "give the session"),
]


@pytest.mark.parametrize("name, fn, field, expected", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_schema_defects_give_one_clear_error(tmp_path, small_geometry, name, fn, field, expected):
    p = tmp_path / "s.h5"
    _write(p, small_geometry)
    _mutate(p, fn)
    with pytest.raises(SessionFormatError) as e:
        open_session(p)
    msg = str(e.value)
    assert str(p) in msg and field in msg and expected in msg and "\n" not in msg


def test_schema_v1_still_reads_with_its_truth_marked_as_such(tmp_path, small_geometry):
    p = tmp_path / "s.h5"
    _write(p, small_geometry)

    def to_v1(f):
        f.attrs["acam_schema_version"] = 1
        del f["truth/level_db"]
        for k in TRUTH_ATTRS:
            del f["truth"].attrs[k]
    _mutate(p, to_v1)
    with open_session(p) as s:
        assert s.schema_version == 1 and s.truth.level_db is None and s.truth.window is None
        assert s.truth.active.shape == (20, 1)


def test_not_hdf5_truncated_missing_and_plain_acoular(tmp_path, small_geometry):
    txt = tmp_path / "notes.h5"
    txt.write_text("hello")
    with pytest.raises(SessionFormatError, match="not HDF5"):
        open_session(txt)
    p = tmp_path / "s.h5"
    _write(p, small_geometry)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(SessionFormatError, match="truncated"):
        open_session(cut)
    with pytest.raises(AcamError, match="no such file"):
        open_session(tmp_path / "missing.h5")
    with pytest.raises(AcamError, match="is a directory"):
        open_session(tmp_path)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["time_data"] = np.zeros((10, 2), np.float32)
        f["time_data"].attrs["sample_freq"] = 100.0
    with pytest.raises(SessionFormatError, match="plain Acoular time data"):
        open_session(plain)
