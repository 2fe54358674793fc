"""`acam experiment paper`: the paper's tables from a dataset, with the spread over seeds."""

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from acoustic_camera.io.dataset import make_split, write_manifest, write_split  # noqa: E402
from acoustic_camera.io.session import open_session  # noqa: E402


def test_cells_hold_the_mean_and_spread_over_seeds_and_tables_keep_the_papers_layout():
    from acoustic_camera.models.experiment import report_markdown, summarise

    results = [{"column": col, "train_set": ts, "test": te, "accuracy": acc + 0.1 * seed, "clips": 120, "seed": seed}
               for seed in range(3) for col, acc in (("D", 0.5), ("soundnet5:G", 0.3), ("hearnet:R", 0.4))
               for ts in ("anechoic", "indoor") for te in ("anechoic", "indoor")]
    rep = summarise(results, ["anechoic", "indoor"], 3)
    c = rep["cells"]["teachers"]["anechoic|indoor|D"]
    assert c["mean"] == pytest.approx(0.6) and c["std"] == pytest.approx(0.1) and c["seeds"] == 3 and c["clips"] == 120
    assert rep["cells"]["hearnet"]["indoor|anechoic|R"]["mean"] == pytest.approx(0.5)
    md = report_markdown(dict(rep, seeds=3))
    assert "| anechoic | indoor | 0.600 ± 0.100 (120) |  |  |" in md
    assert md.count("| train set | test set |") == 3 and "Table 2" in md and "Table 3" in md
    assert "NOT ImageNet weights" in md
    one = summarise(results[:1], ["anechoic"], 1)["cells"]["teachers"]["anechoic|anechoic|D"]
    assert math.isnan(one["std"]) and "0.500 (120)" in report_markdown(dict(summarise(results[:1], ["anechoic"], 1)))
    # fewer than 100 independent clips: marked, and the mark explained
    few = [dict(results[0], independent=40)]
    md = report_markdown(dict(summarise(few, ["anechoic"], 1)))
    assert "0.500 (40†)" in md and "fewer than 100" in md
    quotable = report_markdown(dict(summarise(few, ["anechoic"], 1)), withhold=True)
    assert "| † (40) |" in quotable and "0.500" not in quotable


@pytest.mark.slow
def test_the_experiment_trains_every_column_scores_it_and_resumes(models_dataset, tmp_path):
    """On a dataset tree over three of the models' sessions (one per class; 6 blocks split 3/2/1):
    one seed, one epoch each. Every column of the three tables gets a cell from clips no run
    trained on."""
    from acoustic_camera.models.experiment import run_experiment

    root = tmp_path / "data"
    rows = []
    for s, a in models_dataset["train"][:3]:
        with open_session(s) as ss:
            label, frames = ss.metadata["label"], ss.n_frames
        rel = f"anechoic/subject-01/{label}/{s.name}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(s)
        (root / rel).with_name(a.name).symlink_to(a)
        rows.append({"path": rel, "label": label, "scenario": "anechoic", "subject": "subject-01", "seed": 0,
                     "seconds": 20.0, "frames": frames, "sha256": "", "status": "done", "error": ""})
    write_manifest(root, rows)
    write_split(root, make_split(rows, fractions=(0.5, 0.25, 0.25)))
    rep = run_experiment(root, tmp_path / "report", "tiny", seeds=1, device="cpu")
    assert rep["train_sets"] == ["anechoic"]
    cells = rep["cells"]
    assert set(cells["teachers"]) == {f"anechoic|anechoic|{c}" for c in ("D", "R", "AV")}
    for student in ("soundnet5", "hearnet"):
        assert set(cells[student]) == {f"anechoic|anechoic|{c}" for c in ("G", "D", "R")}
    for table in cells.values():
        for c in table.values():
            assert 0 <= c["mean"] <= 1 and c["clips"] > 0 and c["seeds"] == 1
    assert cells["teachers"]["anechoic|anechoic|D"]["clips"] == 10  # the one test block's 1-s clips
    assert cells["teachers"]["anechoic|anechoic|D"]["independent"] == 10
    # of its six 5-s clips two do not overlap, and only those are scored
    assert cells["hearnet"]["anechoic|anechoic|G"]["clips"] == cells["hearnet"]["anechoic|anechoic|G"]["independent"] == 2
    m = json.loads((tmp_path / "report" / "runs" / "seed0" / "anechoic" / "hearnet-G" / "metrics.json").read_text())
    assert m["config"]["crops"] == 2 and m["sizes"]["test"] == 2  # the tiny preset draws 2 crops a block
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Table 1" in md and "WARNING" in md and "Table 4 (form)" in md
    quotable = (tmp_path / "report" / "report.quotable.md").read_text()
    assert "† (10)" in quotable and "| hearnet | D | † | † | 6 / 2 |" in quotable  # 2 scored clips: withheld
    assert set(rep["transfer"]) == {f"{s}:{c}" for s in ("soundnet5", "hearnet") for c in ("G", "D", "R")}
    t = rep["transfer"]["hearnet:D"]
    assert t["n_train"] == 6 and t["n_test"] == 2 and 0 <= t["knn"]["mean"] <= 1  # 5-s clips, not overlapping
    conf = rep["confusion"]["D"]
    assert np.array(conf["counts"]).sum() == 10 and len(conf["classes"]) == 3  # 1-s clips of the test block
    import cv2

    png = cv2.imread(str(tmp_path / "report" / "confusion.png"))
    assert png is not None and png.shape[0] > 500 and png.std() > 10
    ck = torch.load(tmp_path / "report" / "runs" / "seed0" / "anechoic" / "hearnet-D" / "best.pt", weights_only=False)
    assert ck["config"]["teacher"].endswith("seed0/anechoic/D/best.pt") and ck["split_sha256"]
    # computed once for the dataset, in its .cache: the microphone of each session, the features of
    # the one random backbone (R's and AV's: same fixed seed, same calibration frames), the outputs
    # of the two teachers the students distil
    cache = root / ".cache"
    assert len(list((cache / "audio").glob("*.npy"))) == 3
    assert len(list((cache / "frames").iterdir())) == 1
    assert sorted(p.name.split("-")[1] for p in (cache / "teacher").iterdir()) == ["logits", "logits"]
    assert all(list(p.glob("*.npz")) for p in (cache / "teacher").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "report" / "runs").rglob("best.pt")}
    assert len(stamps) == 9
    run_experiment(root, tmp_path / "report", "tiny", seeds=1, device="cpu")  # resumes: nothing retrained
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and (tmp_path / "report" / "report.md").read_text() == md
