"""`acam dataset make`: the plan, the split file, the training copy, and the same tree made by
local processes and by Ray tasks; resumable and honest about failures."""

import importlib.util
import json
import shutil

import h5py
import numpy as np
import pytest

from acoustic_camera.dataset.presets import PRESETS, plan
from acoustic_camera.errors import AcamError
from acoustic_camera.io.dataset import MANIFEST_NAME, SPLIT_NAME, find_split, make_split, read_manifest, read_split, \
    write_split
from conftest import run_acam


def test_the_plan_names_every_session_once_and_seeds_it_from_its_place_alone():
    jobs = plan("small")
    assert len(jobs) == 3 * 3 * 14 == 126 and len({j.path for j in jobs}) == 126
    assert len({j.path.rsplit("/", 1)[1] for j in jobs}) == 126  # file names alone are unique
    assert len(plan("paper")) == 378 and PRESETS["paper"].seconds == 30.0
    again = {j.path: j.seed for j in plan("small", subjects=5)}
    assert all(again[j.path] == j.seed for j in jobs)  # more subjects do not move anyone's seed
    assert plan("small", seed=1)[0].seed != jobs[0].seed
    j = jobs[0]
    assert j.path == f"{j.scenario}/subject-01/{j.label}/{j.scenario}-subject-01-{j.label}.h5"
    for kw, where in (({"scenarios": ["moon"]}, "--scenarios"), ({"classes": ["singing"]}, "--classes"),
                      ({"subjects": 0}, "--subjects"), ({"seconds": 0.5}, "--seconds")):
        with pytest.raises(AcamError, match=where):
            plan("tiny", **kw)


def _rows(n_per_scenario=20, frames=250):
    return [{"path": f"{s}/subject-01/a{i}/{s}-{i}.h5", "scenario": s, "frames": frames}
            for s in ("anechoic", "indoor", "outdoor") for i in range(n_per_scenario)]


def test_the_split_cuts_every_scenarios_blocks_80_10_10_and_reads_back(tmp_path):
    split = make_split(_rows())  # 250 frames at 12 fps: 3 blocks, the last one short
    units = split["units"]
    assert len(units) == 3 * 20 * 3
    for scen in ("anechoic", "indoor", "outdoor"):
        parts = [u["part"] for u in units if u["scenario"] == scen]
        assert (parts.count("train"), parts.count("validation"), parts.count("test")) == (48, 6, 6)
    assert make_split(_rows()) == split  # fixed seed
    path = write_split(tmp_path, split)
    s = read_split(path)
    assert len(s.part) == 180 and len(s.units("test", ["indoor"])) == 6
    assert s.part[("indoor-3.h5", 2)] in ("train", "validation", "test")
    assert len(s.sha256) == 64
    (tmp_path / MANIFEST_NAME).write_text("")
    (tmp_path / "anechoic").mkdir()
    assert find_split([tmp_path / "anechoic" / "x.h5"]) == path
    assert find_split([tmp_path / "anechoic" / "x.h5", tmp_path.parent / "y.h5"]) is None


def test_the_split_is_stratified_by_action_and_differs_between_scenarios():
    """The small preset's shape: 3 scenarios x 3 subjects x 14 actions x two 10-s blocks. Version 1
    shuffled each scenario's 84 blocks as one list with the same seed: the same (subject, action,
    block) places fell in every scenario's test part, so 24 test blocks held 7 actions, half of one
    action's blocks were test, and a model trained 2 epochs scored 0.10 (chance 0.07) on it."""
    from collections import Counter

    from acoustic_camera.io.dataset import assign_parts

    actions = [f"a{k:02d}" for k in range(14)]
    rows = [{"path": f"{sc}/s{sub}/{a}/{sc}-{sub}-{a}.h5", "label": a, "scenario": sc, "frames": 240}
            for sc in ("anechoic", "indoor", "outdoor") for sub in range(3) for a in actions]
    units = make_split(rows)["units"]
    label = {r["path"]: r["label"] for r in rows}
    for sc in ("anechoic", "indoor", "outdoor"):
        parts = Counter(u["part"] for u in units if u["scenario"] == sc)
        assert parts["train"] == 67 and parts["validation"] + parts["test"] == 17  # 84 blocks: 80/10/10 to the block
    train = Counter(label[u["session"]] for u in units if u["part"] == "train")
    assert set(train) == set(actions) and max(train.values()) - min(train.values()) <= 3  # 14.4 each
    test = Counter(label[u["session"]] for u in units if u["part"] == "test")
    assert len(test) >= 12 and max(test.values()) <= 3  # 24 test blocks over (nearly) every action
    per_scen = [{label[u["session"]] for u in units if u["part"] == "test" and u["scenario"] == sc}
                for sc in ("anechoic", "indoor", "outdoor")]
    assert per_scen[0] != per_scen[1] != per_scen[2]  # each scenario draws its own
    # without strata (the models' own splits of sessions outside a dataset): the DualCam lists' cut
    plain = assign_parts([(f"s{k}", 0) for k in range(10)])
    assert Counter(plain.values()) == {"train": 8, "validation": 1, "test": 1}


def test_a_bad_split_file_or_manifest_is_one_clear_line(tmp_path):
    p = tmp_path / SPLIT_NAME
    p.write_text("{")
    with pytest.raises(AcamError, match="unparsable"):
        read_split(p)
    p.write_text(json.dumps({"acam_schema": "acam-split", "units": [{"session": "a.h5", "block": 0, "part": "exam"}]}))
    with pytest.raises(AcamError, match=r"units\[0\]: expected session, block, scenario and part"):
        read_split(p)
    with pytest.raises(AcamError, match="unique"):
        make_split([{"path": "a/x.h5", "scenario": "indoor", "frames": 12}, {"path": "b/x.h5", "scenario": "indoor", "frames": 12}])
    (tmp_path / MANIFEST_NAME).write_text("path,label\nx,y\n")
    with pytest.raises(AcamError, match="manifest.csv: header: expected path,label,scenario"):
        read_manifest(tmp_path)


def test_the_command_refuses_a_bad_plan_in_one_line(tmp_path):
    r = run_acam("dataset", "make", tmp_path / "d", "--scenarios", "moon", check=False)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "acam: error: --scenarios: expected names from anechoic, indoor, outdoor, found 'moon'"]
    f = tmp_path / "file"
    f.write_text("")
    r = run_acam("dataset", "make", f, "--preset", "tiny", check=False)
    assert r.returncode == 2 and "is a file" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def _same_tree(a, b):
    ra, rb = read_manifest(a), read_manifest(b)
    assert ra == rb and all(r["status"] == "done" for r in ra)
    assert (a / SPLIT_NAME).read_bytes() == (b / SPLIT_NAME).read_bytes()
    for r in ra:
        for name in (r["path"], r["path"][:-3] + ".acoustic.h5"):
            x, y = _arrays(a / name), _arrays(b / name)
            assert x.keys() == y.keys() and len(x) >= 4
            for k in x:
                assert np.array_equal(x[k], y[k]), f"{name}: /{k} differs"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs Ray (the ray extra)")
def test_local_processes_and_ray_tasks_make_the_same_tree_and_a_rerun_redoes_nothing(tmp_path):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    r = run_acam("dataset", "make", local, "--preset", "tiny", "--workers", "2", "--quiet")
    assert "made 4, already done 0, failed 0 of 4 sessions" in r.stdout and (local / SPLIT_NAME).is_file()
    # a local Ray instance, started (and stopped) by the command: the same function as Ray tasks
    r = run_acam("dataset", "make", on_ray, "--preset", "tiny", "--workers", "2", "--ray", "--quiet")
    assert "made 4, already done 0, failed 0 of 4 sessions" in r.stdout
    _same_tree(local, on_ray)
    rows = read_manifest(local)
    assert [r["frames"] for r in rows] == [24] * 4 and len({r["sha256"] for r in rows}) == 4
    with h5py.File(local / rows[0]["path"][:-3].__add__(".acoustic.h5"), "r") as f:
        assert f["mfcc"].shape == (24, 36, 48, 12) and f.attrs["session_time_data_sha256"] == rows[0]["sha256"]

    stamps = {p: p.stat().st_mtime_ns for p in local.rglob("*.h5")}
    r = run_acam("dataset", "make", local, "--preset", "tiny", "--workers", "1", "--quiet")
    assert "made 0, already done 4, failed 0 of 4 sessions" in r.stdout
    assert {p: p.stat().st_mtime_ns for p in local.rglob("*.h5")} == stamps  # finished sessions never redone


@pytest.mark.slow
def test_a_failed_session_is_recorded_the_split_waits_and_the_next_run_retries_only_it(tmp_path):
    d = tmp_path / "d"
    # a file where one session's folder must go: that session fails, the others are made
    (d / "indoor" / "subject-01").mkdir(parents=True)
    (d / "indoor" / "subject-01" / "knocking").write_text("in the way")
    tiny = ("--preset", "tiny", "--classes", "knocking", "--workers", "1", "--quiet")
    r = run_acam("dataset", "make", d, *tiny, check=False)
    assert r.returncode == 1
    assert "made 1, already done 0, failed 1 of 2 sessions" in r.stdout
    assert "acam: failed: indoor/subject-01/knocking/indoor-subject-01-knocking.h5: " in r.stderr
    rows = {x["path"]: x for x in read_manifest(d)}
    bad = rows["indoor/subject-01/knocking/indoor-subject-01-knocking.h5"]
    assert bad["status"] == "failed" and "Error" in bad["error"] and not (d / SPLIT_NAME).exists()
    assert not (d / ".partial").exists()
    stamps = {p: p.stat().st_mtime_ns for p in d.rglob("*.h5")}
    (d / "indoor" / "subject-01" / "knocking").unlink()
    r = run_acam("dataset", "make", d, *tiny)
    assert "made 1, already done 1, failed 0 of 2 sessions" in r.stdout and (d / SPLIT_NAME).is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert all(x["status"] == "done" for x in read_manifest(d))
    # another plan in the same folder is refused before anything is made
    r = run_acam("dataset", "make", d, *tiny, "--seconds", "3", check=False)
    assert r.returncode == 2 and "another plan made this folder" in r.stderr


def test_the_training_copy_keeps_what_the_models_read(tmp_path):
    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.dataset.make import make_dataset
    from acoustic_camera.io.session import open_session

    job = plan("tiny", seconds=1.0)[1]
    full, train = tmp_path / "all", tmp_path / "training"
    make_dataset(full, [job], keep="all", workers=1)
    r = make_dataset(train, [job], keep="training", workers=1)
    assert r["made"] == 1 and r["split"]
    a, b = full / job.path, train / job.path
    assert read_manifest(full)[0]["sha256"] == read_manifest(train)[0]["sha256"]
    assert b.stat().st_size < a.stat().st_size / 8  # 128 channels and raw video against one and JPEG (measured 10x)
    with open_session(a) as s, open_session(b) as t:
        assert t.n_channels == 1 and t.video_format == "jpeg" and t.n_frames == s.n_frames == 12
        assert np.array_equal(t.audio(channel=0), s.audio(channel=0))
        assert np.array_equal(t.frame_sample_index, s.frame_sample_index)
        x, y = s.frames(0, 12).astype(float), t.frames(0, 12).astype(float)
        psnr = 10 * np.log10(255**2 / np.mean((x - y) ** 2))
        assert psnr > 30, psnr
        assert np.array_equal(t.truth.pixel, s.truth.pixel) and t.truth.window == s.truth.window
        assert t.metadata["reduced"]["time_data_sha256"] == read_manifest(full)[0]["sha256"]
        assert t.metadata["label"] == job.label and t.metadata["subject"] == "subject-01"
    with pytest.raises(AcamError, match="found microphone \\[0\\] only \\(a training copy"):
        beamform_session(b, tmp_path / "x.acoustic.h5")
    # the acoustic files are the same: beamformed from the full audio before it was dropped
    x, y = _arrays(a.with_name(a.stem + ".acoustic.h5")), _arrays(b.with_name(b.stem + ".acoustic.h5"))
    assert np.array_equal(x["mfcc"], y["mfcc"])
    if importlib.util.find_spec("torch") is not None:  # and the models read the copy as they read the full session
        from acoustic_camera.models.data import ClipDataset, index_clips

        clips = index_clips([(b, b.with_name(b.stem + ".acoustic.h5"))], clip_frames=12)
        item = ClipDataset(clips, [job.label], video=True)[0]
        assert item["video"].shape == (12, 480, 640, 3) and item["audio"].shape == (22050,)
    shutil.rmtree(full)
