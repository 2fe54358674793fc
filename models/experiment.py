"""The paper's experiment on a dataset (``acam experiment paper``): Tables 1-3 of "Audio-Visual
Model Distillation Using Acoustic Images" (WACV 2020) with mean and spread over seeds.

For each seed and each training set (every scenario on its own, and all of them):

- teachers: DualCamNet (D), ResNet-50 (R), AVNet (AV) (Table 1);
- students SoundNet-5 (Table 2) and HearNet (Table 3) from the labels (G), and distilled with
  soft labels from that seed's D and R trained on the same set (D, R).

Every run takes its blocks from the dataset's split file; every checkpoint is then scored on
every scenario (A on A: A's test blocks; A on B: all of B; all on all: the test blocks), never on
a block it trained or validated on. A run whose ``metrics.json`` exists is not run again, so an
interrupted experiment resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..catalog import SCENARIOS
from ..errors import AcamError
from ..io.acoustic import session_pairs
from ..io.atomic import atomic_output
from ..io.dataset import SPLIT_NAME, read_manifest, read_split
from .cache import CACHE_DIR
from .data import FPS, ClipDataset, Files, index_clips, non_overlapping, session_key
from .evaluation import ALL, evaluate
from .features import export_embeddings, transfer_scores
from .kinds import AUDIO_MODELS, MFCC_MODELS
from .train import TrainConfig, checkpoint_context, clip_frames, device_for, load_checkpoint, predict, train

TEACHER_COLUMNS = {"D": "dualcamnet", "R": "resnet50", "AV": "avnet"}
STUDENT_TABLES = {"soundnet5": "Table 2. Test accuracy for SoundNet-5 (G: labels; D, R: distilled from DualCamNet, ResNet-50)",
                  "hearnet": "Table 3. Test accuracy for HearNet (G: labels; D, R: distilled from DualCamNet, ResNet-50)"}
MIN_CLIPS = 100  # independent test clips below which a cell is marked as too small to quote
TEACHER_TABLE = "Table 1. Test accuracy for teacher models (D: DualCamNet, R: ResNet-50, AV: AVNet)"


@dataclass(frozen=True)
class ExperimentPreset:
    """Settings of every run: epochs per role, batch, learning rates, image size, and the clips
    an epoch draws from each 10-s training block (``TrainConfig.crops``; 0: all)."""

    name: str
    teacher_epochs: int
    student_epochs: int
    distill_epochs: int
    batch_size: int
    image_size: int
    recipe: str  # models.recipes: learning rates and weight decay
    teacher_crops: int = 0  # of a block's ten 1-s clips
    student_crops: int = 0  # of a block's six 5-s clips (students and distillation)


EXPERIMENT_PRESETS = {
    "paper": ExperimentPreset("paper", 100, 100, 10, 32, 224, "paper"),
    # two CPU cores, under two hours from an empty folder (README): 4 epochs of 4 of each block's
    # ten 1-s clips for teachers, 5 of one of its six 5-s crops for students, batch 8
    "small": ExperimentPreset("small", 4, 5, 5, 8, 112, "quick", teacher_crops=4, student_crops=1),
    "tiny": ExperimentPreset("tiny", 1, 1, 1, 8, 64, "quick", teacher_crops=5, student_crops=2),
}


def _runs(train_sets, seeds):
    """(seed, train set, column, role, model, teacher column) in the order they must run."""
    for seed in seeds:
        for ts in train_sets:
            for col, model in TEACHER_COLUMNS.items():
                yield seed, ts, col, "teacher", model, None
            for student in STUDENT_TABLES:
                yield seed, ts, f"{student}:G", "student", student, None
                for t in ("D", "R"):
                    yield seed, ts, f"{student}:{t}", "distill", student, t


def run_experiment(dataset, out, preset: str = "small", seeds: int = 3, visual_weights=None, audio_weights=None,
                   device: str = "auto", progress=None, train_sets=None) -> dict:
    """Train and score every model of the paper's Tables 1-3 on ``dataset`` (made by ``acam
    dataset make``); writes ``out/report.md``, ``out/report.json`` and ``out/report.quotable.md``
    (cells from fewer than MIN_CLIPS test clips withheld) and returns the report.
    ``train_sets``: the training sets (default: each scenario of the dataset, and "all")."""
    from .recipes import recipe

    dataset, out = Path(dataset), Path(out)
    p = EXPERIMENT_PRESETS.get(preset)
    if p is None:
        raise AcamError(f"--preset: expected one of {', '.join(EXPERIMENT_PRESETS)}, found {preset!r}")
    if seeds < 1:
        raise AcamError(f"--seeds: expected at least 1, found {seeds}")
    if not (dataset / SPLIT_NAME).is_file():
        raise AcamError(f"{dataset / SPLIT_NAME}: missing: expected a finished dataset (acam dataset make {dataset})")
    rows = read_manifest(dataset)
    pairs = session_pairs([dataset / r["path"] for r in rows])
    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    train_sets = list(train_sets) if train_sets else scenarios + ([ALL] if len(scenarios) > 1 else [])
    runs = list(_runs(train_sets, range(seeds)))
    cache = dataset / CACHE_DIR
    results = []
    for i, (seed, ts, col, role, model, tcol) in enumerate(runs):
        folder = out / "runs" / f"seed{seed}" / ts / col.replace(":", "-")
        epochs = {"teacher": p.teacher_epochs, "student": p.student_epochs, "distill": p.distill_epochs}[role]
        hp = recipe(p.recipe, role, model, {"epochs": epochs, "batch_size": p.batch_size})
        teacher = None
        if tcol:
            teacher = str(out / "runs" / f"seed{seed}" / ts / tcol / "best.pt")
        crops = p.teacher_crops if role == "teacher" else p.student_crops
        cfg = TrainConfig(role=role, model=model, epochs=hp["epochs"], batch_size=hp["batch_size"], crops=crops, lr=hp["lr"],
                          weight_decay=hp["weight_decay"], lam=hp["lam"], temperature=hp["temperature"], seed=seed,
                          teacher=teacher, train_scenario=None if ts == ALL else ts, test_scenario=None if ts == ALL else ts,
                          image_size=p.image_size, visual_weights=str(visual_weights) if visual_weights else None,
                          audio_weights=str(audio_weights) if audio_weights and model == "soundnet5" else None,
                          split=str(dataset / SPLIT_NAME), cache=str(cache), device=device)
        if not (folder / "metrics.json").exists():
            train(cfg, pairs, folder, progress=False)
        scored = folder / "scores.json"
        if not scored.exists():
            with atomic_output(scored, overwrite=True) as tmp:
                tmp.write_text(json.dumps(evaluate([folder / "best.pt"], pairs, device, cache=str(cache)), default=float))
        for r in json.loads(scored.read_text()):
            if ts == ALL and r["test"] != ALL:
                continue  # the paper's all-scenarios row is tested on all of them together
            results.append(dict(r, seed=seed, column=col, train_set=ts))
        if progress:
            progress(i + 1, len(runs), col, ts, seed)
    report = summarise(results, train_sets, seeds)
    split = read_split(dataset / SPLIT_NAME)
    last = train_sets[-1]  # "all" when the dataset has several scenarios
    report["transfer"] = _transfer(out, pairs, split, last, seeds, device, cache)
    report["confusion"] = _confusions(out, pairs, split, last, device, cache)
    report.update(dataset=str(dataset), preset=vars(p), seeds=seeds, sessions=len(rows),
                  pretrained_visual=bool(visual_weights), transfer_train_set=last)
    with atomic_output(out / "report.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(report, indent=1, default=float))
    with atomic_output(out / "report.md", overwrite=True) as tmp:
        tmp.write_text(report_markdown(report))
    with atomic_output(out / "report.quotable.md", overwrite=True) as tmp:
        tmp.write_text(report_markdown(report, withhold=True))
    return report


def _part_mask(emb: dict, split, part: str):
    per_block = int(round(split.block_seconds * FPS))
    return np.array([split.part.get((session_key(s), int(st) // per_block)) == part
                     for s, st in zip(emb["session"], emb["start"])], dtype=bool)


def _transfer(out: Path, pairs, split, train_set: str, seeds: int, device, cache: Path) -> dict:
    """Table 4's form: each student's 1024-d embedding, k-NN (cosine, k = 5) and a linear SVM fit
    on the training blocks' clips and scored on the test blocks' clips; mean and spread over seeds."""
    cells: dict = {}
    for seed in range(seeds):
        for student in STUDENT_TABLES:
            for sup in ("G", "D", "R"):
                folder = out / "runs" / f"seed{seed}" / train_set / f"{student}-{sup}"
                cached = folder / "transfer.json"
                if not cached.exists():
                    emb = export_embeddings(folder / "best.pt", pairs, "embedding", device, cache=str(cache))
                    tr, te = _part_mask(emb, split, "train"), _part_mask(emb, split, "test")
                    sub = lambda m: {k: v[m] for k, v in emb.items()}  # noqa: E731
                    r = transfer_scores(sub(tr), sub(te)) if tr.any() and te.any() else {"knn": float("nan"), "svm": float("nan"),
                                                                                        "n_train": int(tr.sum()), "n_test": int(te.sum())}
                    with atomic_output(cached, overwrite=True) as tmp:
                        tmp.write_text(json.dumps(r, default=float))
                r = json.loads(cached.read_text())
                c = cells.setdefault(f"{student}:{sup}", {"knn": [], "svm": [], "n_train": r["n_train"], "n_test": r["n_test"]})
                c["knn"].append(r["knn"])
                c["svm"].append(r["svm"])
    for c in cells.values():
        for k in ("knn", "svm"):
            a = np.array(c[k], dtype=float)
            c[k] = {"mean": float(np.mean(a)), "std": float(np.std(a, ddof=1)) if len(a) > 1 else float("nan")}
    return cells


def _confusions(out: Path, pairs, split, train_set: str, device, cache: Path) -> dict:
    """Seed 0's models trained on ``train_set``: confusion matrices on the test blocks' clips
    (rows: truth, columns: prediction, counts), drawn in ``out/confusion.png``."""
    dev = device_for(device)
    files = Files(cache=cache)
    mats = {}
    for col in list(TEACHER_COLUMNS) + [f"{s}-{t}" for s in STUDENT_TABLES for t in ("G", "D", "R")]:
        model, ck = load_checkpoint(out / "runs" / "seed0" / train_set / col / "best.pt", dev)
        cfg, ctx = checkpoint_context(model, ck, dev, files)
        clips = [c for c in non_overlapping(index_clips(pairs, clip_frames=clip_frames(cfg), files=files))
                 if split.part.get((session_key(c.session), c.block)) == "test"]
        ds = ClipDataset(clips, ck["classes"], None, audio=cfg.model in AUDIO_MODELS, mfcc=cfg.model in MFCC_MODELS,
                         files=files)
        m = np.zeros((len(ck["classes"]),) * 2, dtype=int)
        np.add.at(m, predict(model, ds, ctx), 1)
        mats[col] = {"classes": ck["classes"], "counts": m.tolist()}
    _draw_confusions(mats, out / "confusion.png", train_set)
    return mats


def _draw_confusions(mats: dict, path: Path, train_set: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 13), constrained_layout=True)
    axes = fig.subplots(3, 3).ravel()
    for ax, (col, m) in zip(axes, mats.items()):
        counts = np.array(m["counts"], dtype=float)
        rows = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        ax.imshow(rows, vmin=0, vmax=1, cmap="viridis")
        n = int(counts.sum())
        ax.set_title(f"{col.replace('-', ':')}: accuracy {np.trace(counts) / max(n, 1):.2f} ({n} clips)", fontsize=9)
        ax.set_xticks(range(len(m["classes"])), m["classes"], rotation=90, fontsize=6)
        ax.set_yticks(range(len(m["classes"])), m["classes"], fontsize=6)
    fig.suptitle(f"Confusion on the test blocks (seed 0, trained on {train_set}; rows: truth, columns: prediction)")
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


def summarise(results: list[dict], train_sets, seeds: int) -> dict:
    """Cells {table: {(train, test, column): mean, std, n seeds, clips}}."""
    cells: dict = {}
    for r in results:
        table = "teachers" if r["column"] in TEACHER_COLUMNS else r["column"].split(":")[0]
        col = r["column"].split(":")[-1]
        key = f"{r['train_set']}|{r['test']}|{col}"
        c = cells.setdefault(table, {}).setdefault(key, {"acc": [], "clips": r["clips"], "independent": r.get("independent", r["clips"]),
                                                         "pretrained": r.get("pretrained")})
        c["acc"].append(r["accuracy"])
    for table in cells.values():
        for c in table.values():
            a = np.array(c.pop("acc"), dtype=float)
            c.update(mean=float(np.mean(a)), std=float(np.std(a, ddof=1)) if len(a) > 1 else float("nan"),
                     seeds=int(len(a)), values=a.tolist())
    return {"cells": cells, "train_sets": list(train_sets)}


def _table(cells: dict, columns, train_sets, title: str, withhold: bool = False) -> list[str]:
    lines = [f"**{title}**", "", "| train set | test set | " + " | ".join(columns) + " |",
             "|---|---|" + "---:|" * len(columns)]
    scen = [t for t in train_sets if t != ALL]
    pairs = [(a, b) for a in scen for b in scen] + ([(ALL, ALL)] if ALL in train_sets else [])
    for a, b in pairs:
        vals = []
        for col in columns:
            c = cells.get(f"{a}|{b}|{col}")
            if c is None:
                vals.append("")
            else:
                spread = "" if np.isnan(c["std"]) else f" ± {c['std']:.3f}"
                few = "†" if c["independent"] < MIN_CLIPS else ""
                vals.append(f"† ({c['independent']})" if few and withhold else f"{c['mean']:.3f}{spread} ({c['independent']}{few})")
        lines.append(f"| {a} | {b} | " + " | ".join(vals) + " |")
    return lines


def report_markdown(report: dict, withhold: bool = False) -> str:
    """The report in Markdown; ``withhold``: cells from fewer than MIN_CLIPS independent test
    clips show only their † and count, not a figure (what may be quoted elsewhere)."""
    cells, ts = report["cells"], report["train_sets"]
    n = report.get("seeds", "?")
    lines = [f"# The paper's tables on {report.get('dataset', 'the dataset')}", "",
             f"Mean ± standard deviation over {n} seeds; in brackets the independent (non-overlapping) test clips, "
             f"† where they are fewer than {MIN_CLIPS}: too few for the figure to be quoted. A on A is A's test split, "
             "A on B all of B.", ""]
    if not report.get("pretrained_visual", False):
        lines += ["**WARNING: ResNet-50 (R, AV, and the students distilled from R) used a random frozen backbone, "
                  "NOT ImageNet weights: these are not the paper's visual teachers.**", ""]
    lines += _table(cells.get("teachers", {}), list(TEACHER_COLUMNS), ts, TEACHER_TABLE, withhold) + [""]
    for student, title in STUDENT_TABLES.items():
        lines += _table(cells.get(student, {}), ["G", "D", "R"], ts, title, withhold) + [""]
    tr = report.get("transfer") or {}
    if tr:
        lines += [f"**Table 4 (form). The students' embeddings (trained on {report.get('transfer_train_set')}): k-NN (k = 5, "
                  "cosine) and linear SVM fit on the training blocks' clips, scored on the test blocks' clips**", "",
                  "| student | supervision | k-NN | SVM | clips (fit / scored) |", "|---|---|---:|---:|---:|"]
        for key, c in tr.items():
            student, sup = key.split(":")
            cell = lambda d: f"{d['mean']:.3f}" + ("" if np.isnan(d["std"]) else f" ± {d['std']:.3f}")  # noqa: E731
            knn, svm = ("†", "†") if withhold and c["n_test"] < MIN_CLIPS else (cell(c["knn"]), cell(c["svm"]))
            lines.append(f"| {student} | {sup} | {knn} | {svm} | {c['n_train']} / {c['n_test']} |")
        lines.append("")
    if report.get("confusion"):
        lines += ["Confusion matrices (seed 0): `confusion.png`.", ""]
    return "\n".join(lines)
