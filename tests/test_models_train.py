"""A short real training run on a small simulated dataset: DualCamNet and HearNet learn well
above chance, distillation runs end to end, checkpoints resume, evaluation tabulates."""

import json

import pytest

torch = pytest.importorskip("torch")

from acoustic_camera import preset  # noqa: E402
from acoustic_camera.acoustic_file import beamform_session  # noqa: E402
from acoustic_camera.simulator import SimConfig, simulate_to_file  # noqa: E402
from acoustic_camera.trajectories import SourceSpec  # noqa: E402

CLASSES = ("clapping", "whistling", "knocking")


def _session(d, name, label, seconds, seed):
    s = d / f"{name}.h5"
    simulate_to_file(SimConfig(scenario="anechoic", duration=seconds, seed=seed, geometry=preset("uma16"),
                               sources=(SourceSpec(label, motion="walk"),)), s)
    a = d / f"{name}.acoustic.h5"
    beamform_session(s, a, features=("mfcc",), backend="numba")
    return s, a


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Nine 20-s training sessions (3 classes), and three 10-s held-out sessions with other seeds."""
    d = tmp_path_factory.mktemp("train")
    pairs = [_session(d, f"{label}{i}", label, 20.0, i) for i, label in enumerate(CLASSES * 3)]
    held_out = [_session(d, f"heldout_{label}", label, 10.0, 100 + i) for i, label in enumerate(CLASSES)]
    return pairs, held_out


def test_teacher_student_distill_resume_and_evaluate(dataset, tmp_path):
    from acoustic_camera.models.train import TrainConfig, evaluate, train

    pairs, held_out = dataset
    t = train(TrainConfig(role="teacher", model="dualcamnet", epochs=4, batch_size=16, lr=1e-3, seed=0),
              pairs, tmp_path / "teacher", progress=False)
    assert t["chance"] == pytest.approx(1 / 3)
    assert t["train_accuracy"] >= 0.8, t
    (teacher_row,) = evaluate([tmp_path / "teacher" / "best.pt"], held_out, device="cpu").values()
    assert teacher_row["anechoic"] >= 0.7, teacher_row  # unseen sessions; chance is 0.33
    s = train(TrainConfig(role="student", model="hearnet", epochs=8, batch_size=8, lr=1e-3, seed=0),
              pairs, tmp_path / "student", progress=False)
    assert s["train_accuracy"] >= 0.6, s
    (student_row,) = evaluate([tmp_path / "student" / "best.pt"], held_out, device="cpu").values()
    assert student_row["anechoic"] >= 0.6, student_row  # measured 0.67: twice chance from 84 clips
    dist = train(TrainConfig(role="distill", model="hearnet", epochs=2, batch_size=8, seed=0,
                             teacher=str(tmp_path / "teacher" / "best.pt")), pairs, tmp_path / "distill", progress=False)
    assert len(dist["history"]) == 2 and all(h["loss"] > 0 for h in dist["history"])
    # resume: one more epoch continues from the last checkpoint, not from scratch
    more = train(TrainConfig(role="student", model="hearnet", epochs=9, batch_size=8, seed=0),
                 pairs, tmp_path / "student", resume=True, progress=False)
    assert [h["epoch"] for h in more["history"]] == list(range(1, 10))
    assert json.loads((tmp_path / "student" / "metrics.json").read_text())["history"][-1]["epoch"] == 9
    # the teacher's embeddings transfer to unseen sessions (k-NN and linear SVM)
    from acoustic_camera.models.features import export_embeddings, transfer_scores

    emb = export_embeddings(tmp_path / "teacher" / "best.pt", pairs, "embedding", "cpu")
    assert emb["x"].shape[1] == 1024 and len(emb["x"]) == len(emb["label"])
    r = transfer_scores(emb, export_embeddings(tmp_path / "teacher" / "best.pt", held_out, "embedding", "cpu"))
    assert r["knn"] >= 0.6 and r["svm"] >= 0.6, r
