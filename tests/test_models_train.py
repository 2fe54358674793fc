"""Real training runs on a small simulated dataset (tests/conftest.py: models_dataset): every
network learns well above chance, each distillation form runs with a frozen teacher, checkpoints
resume, embeddings transfer, and evaluation never scores a clip the model saw."""

import json
from pathlib import Path

import pytest

from conftest import _made_once

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # real training: `make test` runs it, the fast loop (-m 'not slow') does not

CHANCE = 1 / 3


@pytest.fixture(scope="session")
def runs(models_dataset, dualcamnet_teacher, tmp_path_factory):
    """Teachers trained once per test run (pytest-xdist's workers share them): DualCamNet (shared
    with the other model tests), ResNet-50 (112-px crops), AVNet."""
    from acoustic_camera.models.train import TrainConfig, train

    def make(out):
        pairs = models_dataset["train"]
        metrics = {"resnet50": train(TrainConfig(role="teacher", model="resnet50", epochs=6, batch_size=16, image_size=112),
                                     pairs, out / "resnet50", progress=False),
                   "avnet": train(TrainConfig(role="teacher", model="avnet", epochs=3, batch_size=16, image_size=112),
                                  pairs, out / "avnet", progress=False)}
        return {"metrics": metrics, "ck": {k: str(out / k / "best.pt") for k in metrics}}

    r = _made_once(tmp_path_factory, "visual_teachers", make)
    metrics, ck = r["metrics"], {k: Path(v) for k, v in r["ck"].items()}
    metrics["dualcamnet"] = dualcamnet_teacher[1]
    ck["dualcamnet"] = dualcamnet_teacher[0]
    return {"metrics": metrics, "ck": ck}


def _heldout(ck, models_dataset):
    from acoustic_camera.models.evaluation import evaluate

    (row,) = evaluate([ck], models_dataset["heldout"], device="cpu")
    assert row["test"] == "anechoic" and row["clips"] > 0
    return row["accuracy"]


def test_teachers_learn_well_above_chance(runs, models_dataset):
    m = runs["metrics"]
    held = {k: _heldout(runs["ck"][k], models_dataset) for k in m}
    print("teachers (train, test split, held-out sessions):",
          {k: (round(m[k]["train_accuracy"], 3), round(m[k]["test_accuracy"], 3), round(held[k], 3)) for k in m})
    assert m["dualcamnet"]["chance"] == pytest.approx(CHANCE)
    assert m["dualcamnet"]["train_accuracy"] >= 0.8, m["dualcamnet"]
    assert held["dualcamnet"] >= 0.7  # unseen sessions
    # ResNet-50 with a random, frozen, batch-norm-calibrated backbone: only fc learns, from the
    # class colours of small simulated figures; weak, but above chance
    assert m["resnet50"]["train_accuracy"] >= 0.5, m["resnet50"]
    assert held["resnet50"] >= 0.4
    assert m["avnet"]["train_accuracy"] >= 0.6, m["avnet"]  # best-validation epoch of 3
    assert held["avnet"] >= 0.7


def test_resnet_backbone_stays_frozen_and_its_features_are_cached(runs, models_dataset):
    from acoustic_camera.models.networks import ResNet50Teacher
    from acoustic_camera.models.train import load_checkpoint

    model, ck = load_checkpoint(runs["ck"]["resnet50"])
    # conv and batch-norm weights are the seeded initialisation (calibration only set the statistics)
    torch.manual_seed(0)
    fresh = ResNet50Teacher(3)
    trained = [k for k, v in model.state_dict().items() if not k.startswith("net.fc.")
               and "running" not in k and "num_batches" not in k and not torch.equal(v, fresh.state_dict()[k])]
    assert trained == []
    assert ck["config"]["image_size"] == 112
    # each video frame goes through the backbone once: a second pass is served from the cache
    from acoustic_camera.models.data import ClipDataset, index_clips
    from acoustic_camera.models.inputs import run
    from acoustic_camera.models.train import checkpoint_context

    _, ctx = checkpoint_context(model, ck, torch.device("cpu"))
    ds = ClipDataset(index_clips(models_dataset["heldout"][:1], 12), ck["classes"], None, audio=False)
    items = [ds[i] for i in range(len(ds))]
    calls = []
    ctx.frames._embed = lambda *a, _orig=ctx.frames._embed: calls.append(len(a[1])) or _orig(*a)
    first = run(model, items, ctx)
    assert sum(calls) == len(items) == len(ctx.frames.cache)  # one middle frame per 1-s clip
    assert torch.equal(run(model, items, ctx), first) and sum(calls) == len(items)


@pytest.mark.parametrize("teacher", ["dualcamnet", "resnet50", "avnet"])
def test_soft_label_distillation_from_each_teacher_keeps_it_frozen(runs, models_dataset, tmp_path, teacher):
    from acoustic_camera.models.train import TrainConfig, load_checkpoint, train

    before = {k: v.clone() for k, v in load_checkpoint(runs["ck"][teacher])[0].state_dict().items()}
    # the published form learns over two epochs; from the visual teachers one epoch on a session of
    # each class shows the form runs and the teacher stays frozen (their ResNet-50 costs most here).
    # Those sessions are the held-out ones: a subset of the teacher's own sessions would split
    # otherwise, and the teacher, which trained on them, is refused (test below)
    epochs, pairs = (2, models_dataset["train"]) if teacher == "dualcamnet" else (1, models_dataset["heldout"])
    m = train(TrainConfig(role="distill", model="hearnet", epochs=epochs, batch_size=8, teacher=str(runs["ck"][teacher])),
              pairs, tmp_path, progress=False)  # the loop asserts the teacher frozen each epoch
    if epochs == 2:
        assert m["history"][1]["loss"] < m["history"][0]["loss"], m["history"]
    after = torch.load(runs["ck"][teacher], weights_only=False)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    from acoustic_camera.models.evaluation import model_label

    flag = "" if teacher == "dualcamnet" else " [random ResNet-50]"  # its visual teacher had no pretrained weights
    assert model_label(torch.load(tmp_path / "best.pt", weights_only=False)) == f"hearnet<-{teacher}:soft{flag}"


def test_hearnet_learns_from_labels_and_resumes(models_dataset, tmp_path):
    from acoustic_camera.models.train import TrainConfig, train

    pairs = models_dataset["train"]
    s = train(TrainConfig(role="student", model="hearnet", epochs=8, batch_size=8, seed=0), pairs, tmp_path / "hearnet",
              progress=False)
    assert s["train_accuracy"] >= 0.6, s
    held = _heldout(tmp_path / "hearnet" / "best.pt", models_dataset)
    print("hearnet (held-out sessions):", held)
    assert held >= 0.55
    resumed = train(TrainConfig(role="student", model="hearnet", epochs=9, batch_size=8, seed=0), pairs,
                    tmp_path / "hearnet", resume=True, progress=False)
    assert [e["epoch"] for e in resumed["history"]] == list(range(1, 10))  # continued, not restarted
    assert json.loads((tmp_path / "hearnet" / "metrics.json").read_text())["history"][-1]["epoch"] == 9


def test_soundnet5_learns_from_labels(models_dataset, tmp_path):
    from acoustic_camera.models.train import TrainConfig, train

    sn = train(TrainConfig(role="student", model="soundnet5", epochs=3, batch_size=8, seed=0), models_dataset["train"],
               tmp_path / "soundnet5", progress=False)
    assert sn["train_accuracy"] >= 0.6, sn
    held = _heldout(tmp_path / "soundnet5" / "best.pt", models_dataset)
    print("soundnet5 (held-out sessions):", held)
    assert held >= 0.55


def test_hint_and_sequential_distillation_learn(runs, models_dataset, tmp_path):
    from acoustic_camera.models.train import TrainConfig, train

    pairs = models_dataset["train"]
    acc = {}
    h = train(TrainConfig(role="distill", distill="hint", model="hearnet", epochs=5, batch_size=8,
                          teacher=str(runs["ck"]["dualcamnet"])), pairs, tmp_path / "hint", progress=False)
    assert h["history"][-1]["loss"] < h["history"][0]["loss"]
    acc["hearnet<-dualcamnet:hint"] = _heldout(tmp_path / "hint" / "best.pt", models_dataset)
    assert acc["hearnet<-dualcamnet:hint"] >= 0.55
    q = train(TrainConfig(role="distill", distill="sequential", model="hearnet", epochs=2, batch_size=8,
                          teacher=str(runs["ck"]["dualcamnet"])), pairs, tmp_path / "seq", progress=False)
    assert q["history"][-1]["loss"] < q["history"][0]["loss"]
    ck = torch.load(tmp_path / "seq" / "best.pt", weights_only=False)
    assert {k.split(".")[0] for k in ck["aux"]} == {"aggregator", "segment", "aggregate"}
    # the segment projection maps HearNet's 256-d per-second features onto DualCamNet's 1024-d
    assert tuple(ck["aux"]["segment.proj.weight"].shape) == (1024, 256)
    acc["hearnet<-dualcamnet:sequential"] = _heldout(tmp_path / "seq" / "best.pt", models_dataset)
    print("distilled students (held-out sessions):", acc)
    train(TrainConfig(role="distill", distill="sequential", model="soundnet5", epochs=1, batch_size=8,
                      teacher=str(runs["ck"]["resnet50"])), models_dataset["heldout"], tmp_path / "seq_sn",
          progress=False)  # sessions the teacher never saw: a subset of its own would split otherwise
    aux = torch.load(tmp_path / "seq_sn" / "best.pt", weights_only=False)["aux"]
    # SoundNet-5's 256-d per-second features (conv4) regress ResNet-50's 2048-d frame embeddings
    assert tuple(aux["segment.proj.weight"].shape) == (2048, 256)
    assert tuple(aux["aggregate.proj.weight"].shape) == (2048, 256)


def test_embeddings_transfer_to_unseen_sessions(runs, models_dataset):
    from acoustic_camera.models.features import export_embeddings, transfer_scores

    emb = export_embeddings(runs["ck"]["dualcamnet"], models_dataset["train"], "embedding", "cpu")
    assert emb["x"].shape[1] == 1024 and len(emb["x"]) == len(emb["label"])
    r = transfer_scores(emb, export_embeddings(runs["ck"]["dualcamnet"], models_dataset["heldout"], "embedding", "cpu"))
    assert r["knn"] >= 0.6 and r["svm"] >= 0.6, r
    v = export_embeddings(runs["ck"]["resnet50"], models_dataset["heldout"], "embedding", "cpu")
    assert v["x"].shape[1] == 2048


def test_evaluation_leaves_out_what_the_model_saw(runs, models_dataset):
    from acoustic_camera.models.evaluation import accuracy_table, evaluate

    ck = runs["ck"]["dualcamnet"]
    seen = {tuple(u) for u in torch.load(ck, weights_only=False)["units"]}
    assert len(seen) == 16  # 9 sessions x 2 blocks = 18 units, 80 + 10 % of them trained or validated
    (row,) = evaluate([ck], models_dataset["train"], device="cpu")
    assert row["clips"] == (18 - 16) * 10  # only the test blocks' 1-s clips are scored
    table = accuracy_table([row])
    assert "| anechoic | anechoic | " in table and "(20)" in table  # rows name the scenarios it trained on


def test_a_teacher_that_saw_the_students_test_blocks_is_refused(runs, models_dataset, tmp_path):
    """Distilling on a subset of the teacher's sessions splits them otherwise: blocks the
    teacher trained on become the student's validation and test blocks, and the run stops
    before training with a line that says so."""
    from acoustic_camera import AcamError
    from acoustic_camera.models.train import TrainConfig, train

    with pytest.raises(AcamError, match="never trained or validated on the student's validation and test blocks"):
        train(TrainConfig(role="distill", model="hearnet", epochs=1, batch_size=8, teacher=str(runs["ck"]["dualcamnet"])),
              models_dataset["train"][:3], tmp_path, progress=False)
    assert not (tmp_path / "best.pt").exists()
