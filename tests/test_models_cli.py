"""`acam train` / `acam evaluate` from the command line: a cross-scenario table as in the paper,
a localiser's report with its picture, and one-line errors."""

import json

import pytest

pytest.importorskip("torch")

from conftest import MODEL_CLASSES, _model_session, run_acam  # noqa: E402


@pytest.fixture(scope="module")
def indoor(models_dataset):
    d = models_dataset["root"] / "indoor"
    d.mkdir(exist_ok=True)
    for i, label in enumerate(MODEL_CLASSES):
        _model_session(d, f"indoor_{label}", label, 10.0, 200 + i, scenario="indoor")
    return d


def test_cross_scenario_training_and_table(models_dataset, indoor, tmp_path):
    root = models_dataset["root"]
    r = run_acam("train", "teacher", root / "train", indoor, "--out", tmp_path / "a2i", "--epochs", "2",
                 "--train-scenario", "anechoic", "--test-scenario", "indoor", "--device", "cpu")
    assert "teacher dualcamnet: best validation accuracy" in r.stdout
    m = json.loads((tmp_path / "a2i" / "metrics.json").read_text())
    assert m["sizes"]["test"] == 30  # all of indoor: 3 sessions x 10 one-second clips
    r = run_acam("evaluate", tmp_path / "a2i" / "best.pt", "--sessions", root / "train", "--sessions", indoor,
                 "--sessions", root / "heldout", "--json", tmp_path / "table.json", "--device", "cpu")
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
    assert all(0.0 <= x["accuracy"] <= 1.0 for x in rows.values())


def test_localizer_cli_reports_against_truth_and_draws(models_dataset, tmp_path):
    root = models_dataset["root"]
    run_acam("train", "localize", root / "train", "--out", tmp_path / "loc", "--epochs", "1", "--map-hint", "1",
             "--device", "cpu")
    r = run_acam("evaluate", tmp_path / "loc" / "localizer.pt", "--sessions", root / "heldout",
                 "--picture", tmp_path / "maps.png", "--device", "cpu")
    assert "| model |" in r.stdout and "| acoustic camera |" in r.stdout and "| centre |" in r.stdout
    assert (tmp_path / "maps.png").stat().st_size > 10_000


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
