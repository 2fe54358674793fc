"""Leak-free runs: every run on a dataset takes its blocks from the dataset's split file and
remembers it; the fixes the paper's reproduction needs (empty validation, the localiser's
energy map, SoundNet-5 weights, weight decay, the paper's recipe, the untrained-backbone flag)."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from acoustic_camera.errors import AcamError  # noqa: E402
from acoustic_camera.io.dataset import make_split, read_split, write_split  # noqa: E402
from acoustic_camera.io.session import open_session  # noqa: E402
from acoustic_camera.models.data import Clip, dataset_split, session_key  # noqa: E402
from conftest import run_acam  # noqa: E402


def _split_for(pairs, folder: Path, scenario="anechoic", **kw) -> Path:
    rows = []
    for s, _ in pairs:
        with open_session(s) as ss:
            rows.append({"path": f"{scenario}/x/{Path(s).name}", "scenario": scenario, "frames": ss.n_frames})
    folder.mkdir(parents=True, exist_ok=True)
    return write_split(folder, make_split(rows, **kw))


@pytest.mark.slow  # the models' dataset
def test_teacher_and_student_runs_take_their_blocks_from_the_split_file(models_dataset, tmp_path):
    from acoustic_camera.models.train import TrainConfig, prepare

    pairs = models_dataset["train"]
    path = _split_for(pairs, tmp_path)
    sp = read_split(path)
    for model, role in (("dualcamnet", "teacher"), ("hearnet", "student")):
        d = prepare(TrainConfig(role=role, model=model, split=str(path)), pairs)
        assert d["split_sha256"] == sp.sha256
        for part, ds in d["sets"].items():
            assert ds.clips and all(sp.part[(session_key(c.session), c.block)] == part for c in ds.clips)
        assert set(d["train_units"]) == {u for u, p in sp.part.items() if p == "train"}
    # a session the split file does not know is named
    with pytest.raises(AcamError, match="expected every block of the run's sessions, found no heldout_"):
        prepare(TrainConfig(role="teacher", split=str(path)), pairs + models_dataset["heldout"][:1])


def test_cross_scenario_parts_come_from_the_split_file(tmp_path):
    rows = [{"path": f"{s}/x/{s}{i}.h5", "scenario": s, "frames": 240} for s in ("anechoic", "indoor") for i in range(10)]
    path = write_split(tmp_path, make_split(rows))
    sp = read_split(path)
    clips = [Clip(f"/data/{r['path']}", "", 0, 12, "clapping", r["scenario"], "subject-01", b)
             for r in rows for b in range(2)]
    on_a, _ = dataset_split(clips, [], path, train="anechoic", test="anechoic")
    a_to_b, _ = dataset_split(clips, [], path, train="anechoic", test="indoor")
    for part in ("train", "validation"):
        assert on_a[part] == a_to_b[part] and on_a[part]
        assert all(c.scenario == "anechoic" and sp.part[(session_key(c.session), c.block)] == part for c in on_a[part])
    assert {(session_key(c.session), c.block) for c in on_a["test"]} == sp.units("test", ["anechoic"])  # A's test split
    assert len(a_to_b["test"]) == 20 and all(c.scenario == "indoor" for c in a_to_b["test"])  # all of B


@pytest.mark.slow  # the models' dataset
def test_no_validation_blocks_best_is_the_last_epoch_with_weight_decay(models_dataset, tmp_path):
    from acoustic_camera.models.train import TrainConfig, train

    pairs = models_dataset["train"][:3]
    path = _split_for(pairs, tmp_path / "split", fractions=(0.84, 0.0, 0.16))  # 6 blocks: 5 train, 1 test
    m = train(TrainConfig(role="teacher", model="dualcamnet", epochs=2, batch_size=16, weight_decay=1e-3, split=str(path)),
              pairs, tmp_path / "run", progress=False)
    assert m["sizes"]["validation"] == 0 and np.isnan(m["best_val_accuracy"])
    assert m["best_is"] == "the last epoch (no validation clips)"
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert best["epoch"] == 1  # epoch 2 of 2, not the first one
    assert best["optimizer"]["param_groups"][0]["weight_decay"] == 1e-3
    assert best["split_sha256"] == read_split(path).sha256 == m["split_sha256"]


@pytest.mark.slow  # the models' dataset
def test_a_teacher_from_another_split_file_is_refused(models_dataset, dualcamnet_teacher, tmp_path):
    from acoustic_camera.models.train import load_teacher

    ck, _ = dualcamnet_teacher
    t = torch.load(ck, weights_only=False)
    t["split_sha256"] = "a" * 64
    torch.save(t, tmp_path / "t.pt")
    with pytest.raises(AcamError, match="split_sha256: expected the student's split file"):
        load_teacher(tmp_path / "t.pt", t["classes"], "cpu", split_sha256="b" * 64)


def test_the_localizers_energy_map_never_reads_mfcc_c1_as_energy(tmp_path):
    from acoustic_camera import preset
    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.models.data import Files
    from acoustic_camera.models.localization import MIDDLE, acoustic_map
    from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
    from acoustic_camera.sim.trajectories import SourceSpec

    s = tmp_path / "s.h5"
    simulate_to_file(SimConfig(duration=1.0, seed=2, geometry=preset("dualcam128"), sources=(SourceSpec("whistling"),)), s)
    kinds = {"energy": ("mfcc", "energy"), "volumes": ("mfcc", "volumes"), "mfcc": ("mfcc",)}
    for k, feats in kinds.items():
        beamform_session(s, tmp_path / f"{k}.acoustic.h5", features=feats, backend="numba")
    item = {"session": str(s), "start": 6 - MIDDLE}
    files = Files()
    ref = acoustic_map(dict(item, acoustic=str(tmp_path / "energy.acoustic.h5")), files)
    got = acoustic_map(dict(item, acoustic=str(tmp_path / "volumes.acoustic.h5")), files)
    assert np.abs(got - ref).max() < 1e-3  # dB: the band energy, from the volumes
    with pytest.raises(AcamError, match="hold c1..c12 and no energy"):
        acoustic_map(dict(item, acoustic=str(tmp_path / "mfcc.acoustic.h5")), files)


@pytest.mark.slow  # the models' dataset
def test_soundnet5_weights_load_from_a_local_file_and_the_cli_names_a_bad_one(models_dataset, tmp_path):
    from acoustic_camera.models.networks import SoundNet5
    from acoustic_camera.models.train import TrainConfig, build

    src = SoundNet5(3)
    sd = {k: v + 0.5 for k, v in src.state_dict().items() if k.split(".")[0] in {f"conv{i}" for i in range(1, 5)}
          | {f"bn{i}" for i in range(1, 5)} and v.is_floating_point()}
    torch.save(sd, tmp_path / "soundnet.pt")
    net = build("soundnet5", 3, audio_weights=tmp_path / "soundnet.pt")
    own = net.state_dict()
    assert all(torch.equal(own[k], v) for k, v in sd.items()) and len(sd) >= 16
    with pytest.raises(AcamError, match="--audio-weights: SoundNet-5's pretrained layers; the model is hearnet"):
        TrainConfig(role="student", model="hearnet", audio_weights="x.pt").check()
    r = run_acam("train", "student", *[s for s, _ in models_dataset["train"][:1]], "--model", "soundnet5", "--out",
                 tmp_path / "run", "--audio-weights", tmp_path / "missing.pt", check=False)
    assert r.returncode == 2 and "missing.pt: no such weights file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_the_paper_recipe_and_its_overrides():
    from acoustic_camera.models.kinds import RECIPE_NAMES
    from acoustic_camera.models.recipes import RECIPES, recipe

    assert tuple(RECIPES) == RECIPE_NAMES
    assert recipe("paper", "teacher", "dualcamnet") == {"epochs": 100, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0,
                                                        "lam": 0.5, "temperature": 1.0}
    assert recipe("paper", "teacher", "resnet50")["lr"] == 1e-4 and recipe("paper", "student", "hearnet")["weight_decay"] == 5e-4
    assert recipe("paper", "distill", "soundnet5", {"epochs": 3, "lr": None}) == {
        "epochs": 3, "batch_size": 64, "lr": 1e-3, "weight_decay": 5e-4, "lam": 0.5, "temperature": 1.0}
    assert recipe("quick", "teacher", "resnet50")["epochs"] == 10
    with pytest.raises(AcamError, match="--recipe"):
        recipe("fast", "teacher", "dualcamnet")


def test_tables_flag_a_visual_backbone_that_was_not_pretrained():
    from acoustic_camera.models.evaluation import NOT_PRETRAINED, accuracy_table, model_label, trained_on
    from acoustic_camera.models.train import pretrained

    resnet = {"model": "resnet50", "visual_weights": None, "role": "teacher", "train_scenario": None}
    assert pretrained(resnet) is False and pretrained(dict(resnet, visual_weights="w.pt")) is True
    student = {"model": "hearnet", "role": "distill", "distill": "soft", "train_scenario": None}
    assert pretrained(student, resnet) is False and pretrained(student) is None
    ck = {"config": student, "teacher_model": "resnet50", "pretrained": False, "scenarios": ["anechoic", "indoor", "outdoor"]}
    assert model_label(ck) == f"hearnet<-resnet50:soft {NOT_PRETRAINED}" and trained_on(ck) == "all"
    assert trained_on(dict(ck, scenarios=["indoor"])) == "indoor"
    rows = [{"model": model_label(ck), "train": "all", "test": "indoor", "accuracy": 0.5, "clips": 120, "pretrained": False}]
    assert "WARNING" in accuracy_table(rows) and "NOT pretrained" in accuracy_table(rows)
    assert "WARNING" not in accuracy_table([dict(rows[0], pretrained=None)])


@pytest.mark.slow
def test_a_student_distilled_with_lam_1_follows_a_permuted_teacher_not_the_labels(models_dataset, dualcamnet_teacher,
                                                                                   tmp_path):
    """Control: the teacher's soft labels are what a lam = 1 student learns from. A teacher
    whose classes are rotated (it says k where the truth is perm[k]) makes a student that
    predicts the rotated class on sessions neither has seen."""
    from acoustic_camera.models.controls import permute_teacher
    from acoustic_camera.models.data import ClipDataset, index_clips
    from acoustic_camera.models.train import STUDENT_FRAMES, TEACHER_FRAMES, TrainConfig, checkpoint_context, \
        load_checkpoint, predict, train

    ck, _ = dualcamnet_teacher
    perm = [1, 2, 0]
    wrong = permute_teacher(ck, tmp_path / "wrong.pt", perm)
    with pytest.raises(AcamError, match="each once"):
        permute_teacher(ck, tmp_path / "x.pt", [0, 0, 1])
    train(TrainConfig(role="distill", model="hearnet", distill="soft", lam=1.0, epochs=4, batch_size=8, teacher=str(wrong)),
          models_dataset["train"], tmp_path / "student", progress=False)
    # last.pt: best.pt is chosen by validation accuracy against the labels, which a student that
    # follows this teacher loses as it learns
    model, sck = load_checkpoint(tmp_path / "student" / "last.pt")
    _, ctx = checkpoint_context(model, sck, torch.device("cpu"))
    clips = index_clips(models_dataset["heldout"], clip_frames=STUDENT_FRAMES, hop_frames=TEACHER_FRAMES)
    ds = ClipDataset(clips, sck["classes"], None, audio=True, mfcc=False)
    label, pred = predict(model, ds, ctx)
    inverse = np.argsort(perm)  # the wrong teacher says k = inverse[truth]
    follows_teacher, follows_labels = float(np.mean(pred == inverse[label])), float(np.mean(pred == label))
    print(f"permuted-teacher control on {len(label)} held-out clips: follows the teacher {follows_teacher:.2f}, "
          f"the labels {follows_labels:.2f}")
    # measured 0.67 and 0.00 in one process, 0.67 and 0.33 on CI's single-threaded workers (chance: 0.33 each;
    # the 18 clips come from three sessions, so figures move in thirds)
    assert len(label) == 18 and follows_teacher >= 0.6 and follows_teacher >= 2 * follows_labels
