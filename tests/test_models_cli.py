"""`acam train` / `acam evaluate` from the command line: a cross-scenario table as in the paper,
a localiser's report with its picture, and one-line errors."""

import json

import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # real training: `make test` runs it, the fast loop (-m 'not slow') does not

from conftest import MODEL_CLASSES, model_sessions, run_acam  # noqa: E402


@pytest.fixture(scope="module")
def indoor(models_dataset):
    d = models_dataset["root"] / "indoor"
    d.mkdir(exist_ok=True)
    model_sessions([(d, f"indoor_{label}", label, 10.0, 200 + i, "indoor") for i, label in enumerate(MODEL_CLASSES)])
    return d


def test_cross_scenario_training_and_table(models_dataset, indoor, tmp_path):
    root = models_dataset["root"]
    r = run_acam("train", "teacher", root / "train", indoor, "--out", tmp_path / "a2i", "--epochs", "2",
                 "--train-scenario", "anechoic", "--test-scenario", "indoor", "--device", "cpu")
    assert "teacher dualcamnet: best validation accuracy" in r.stdout
    m = json.loads((tmp_path / "a2i" / "metrics.json").read_text())
    assert m["sizes"]["test"] == 30  # all of indoor: 3 sessions x 10 one-second clips
    r = run_acam("evaluate", root / "train", indoor, root / "heldout", "--checkpoint", tmp_path / "a2i" / "best.pt",
                 "--json", tmp_path / "table.json", "--device", "cpu")
    lines = r.stdout.splitlines()
    assert lines[0] == "| train set | test set | dualcamnet |"
    assert [ln.split("|")[1:3] for ln in lines[2:5]] == [[" anechoic ", " anechoic "], [" anechoic ", " indoor "],
                                                         [" anechoic ", " all "]]
    rows = {(x["train"], x["test"]): x for x in json.loads((tmp_path / "table.json").read_text())["accuracy"]}
    assert set(rows) == {("anechoic", "anechoic"), ("anechoic", "indoor"), ("anechoic", "all")}
    # anechoic: a cross-scenario run trains and validates on every block of its scenario, so only
    # the 3 held-out sessions (30 clips) are left to score there
    assert rows[("anechoic", "anechoic")]["clips"] == 30
    assert rows[("anechoic", "indoor")]["clips"] == 30 and rows[("anechoic", "all")]["clips"] == 60
    # the 'all' cell is the clip-weighted mean of the scenario cells, and the printed table is the JSON's
    a, i, both = rows[("anechoic", "anechoic")], rows[("anechoic", "indoor")], rows[("anechoic", "all")]
    assert both["accuracy"] == pytest.approx((a["accuracy"] * 30 + i["accuracy"] * 30) / 60)
    assert f"{a['accuracy']:.4f} (30)" in lines[2] and f"{i['accuracy']:.4f} (30)" in lines[3]
    # on its own scenario's unseen sessions the teacher is well above chance (1/3), 2 epochs in
    assert a["accuracy"] >= 0.6, a


def test_localizer_cli_reports_against_truth_and_draws(models_dataset, tmp_path):
    root = models_dataset["root"]
    run_acam("train", "localize", root / "train", "--out", tmp_path / "loc", "--epochs", "1", "--map-hint", "1",
             "--device", "cpu")
    r = run_acam("evaluate", root / "heldout", "--checkpoint", tmp_path / "loc" / "localizer.pt",
                 "--picture", tmp_path / "maps.png", "--device", "cpu")
    assert "| model |" in r.stdout and "| acoustic camera |" in r.stdout and "| centre |" in r.stdout
    assert (tmp_path / "maps.png").stat().st_size > 10_000
    # the acoustic camera, the reference the localiser is scored beside, finds the source
    cam = next(ln for ln in r.stdout.splitlines() if ln.startswith("| acoustic camera |"))
    assert float(cam.split("|")[2]) >= 0.9, cam


@pytest.mark.parametrize("args, words", [
    (["distill", "{train}", "--teacher", "{tmp}/nope.pt"], ["nope.pt", "no such checkpoint"]),
    (["teacher", "{train}", "--model", "hearnet"], ["does not go with", "hearnet"]),
    (["teacher", "{train}", "--train-scenario", "outdoor", "--test-scenario", "anechoic"], ["outdoor", "none of the sessions"]),
])
def test_training_errors_are_one_line(models_dataset, tmp_path, args, words):
    args = [a.format(train=models_dataset["root"] / "train", tmp=tmp_path) for a in args]
    r = run_acam("train", *args, "--out", tmp_path / "run", "--epochs", "1", check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), r.stderr
