"""``acam train``, ``acam evaluate``, ``acam features`` and ``acam experiment paper``: the models on acoustic images
(``models`` extra: torch, torchvision)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..catalog import SCENARIOS
from ..errors import AcamError
from ..models.kinds import DISTILL_KINDS, EXPERIMENT_PRESET_NAMES, LAYERS, MODELS, RECIPE_NAMES, ROLES
from .. import options
from . import main
from .common import Checked, models_extra, sessions_argument, writes_files


@main.command()
@click.argument("role", metavar="ROLE", type=click.Choice(ROLES))
@sessions_argument
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder.")
@click.option("--model", default=None, type=click.Choice(MODELS), help="Default: dualcamnet for teacher, hearnet otherwise.")
@click.option("--teacher", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Teacher checkpoint (distill).")
@click.option("--recipe", default="quick", show_default=True, type=click.Choice(RECIPE_NAMES),
              help="Defaults of the settings below: quick (10 epochs, batch 16, lr 1e-3, no weight decay) or paper "
                   "(the DualCam scripts' epochs, batches, learning rates and weight decay per role and model).")
@click.option("--epochs", default=None, type=Checked(options.EPOCHS, "INTEGER"), help="Training epochs [recipe].")
@click.option("--batch-size", default=None, type=Checked(options.CLIPS_PER_BATCH, "INTEGER"), help="Clips per batch [recipe].")
@click.option("--crops", default=0, show_default=True, type=Checked(options.CROPS, "INTEGER"),
              help="Clips drawn at random from each 10-s training block per epoch (0: all of them).")
@click.option("--lr", default=None, type=Checked(options.LEARNING_RATE, "NUMBER"), help="Adam learning rate [recipe].")
@click.option("--weight-decay", default=None, type=Checked(options.WEIGHT, "NUMBER"), help="L2 weight decay [recipe].")
@click.option("--seed", default=0, show_default=True, type=Checked(options.SEED, "INTEGER"), help="Seed of initialisation and batch order.")
@click.option("--distill", "distill_kind", default="soft", show_default=True, type=click.Choice(DISTILL_KINDS),
              help="soft labels (published) or Hinton's; feature hints; per-second + aggregated hints.")
@click.option("--lam", default=None, type=Checked(options.FRACTION, "NUMBER"), help="Soft-label weight (soft, hinton) [recipe: 0.5].")
@click.option("--temperature", default=None, type=Checked(options.TEMPERATURE, "NUMBER"), help="Soft-label temperature (soft, hinton) [recipe: 1].")
@click.option("--hint-weight", default=1.0, show_default=True, type=Checked(options.WEIGHT, "NUMBER"), help="Hint term weight (hint, sequential).")
@click.option("--alpha", default=0.5, show_default=True, type=Checked(options.FRACTION, "NUMBER"), help="Per-second vs aggregated hint (sequential).")
@click.option("--train-scenario", default=None, type=click.Choice(SCENARIOS), help="Cross-scenario: train on this scenario...")
@click.option("--test-scenario", default=None, type=click.Choice(SCENARIOS), help="...and test on this one.")
@click.option("--image-size", default=224, show_default=True, type=Checked(options.IMAGE_SIDE, "INTEGER"), help="ResNet-50 crop side (resnet50, avnet).")
@click.option("--video-per-second", default=1, show_default=True, type=Checked(options.PER_SECOND, "INTEGER"),
              help="Video frames per second of clip for the visual models (1: the middle frame; AVNet: 1 or 12).")
@click.option("--visual-weights", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Local ImageNet ResNet-50 state_dict (nothing is downloaded); without it the frozen backbone is random "
                   "(and tables say so).")
@click.option("--audio-weights", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="soundnet5: local pretrained SoundNet layers 1-4 (.pt state_dict, or soundnet5_final.t7 with torchfile).")
@click.option("--split", "split", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Split file (default: the split.json of the dataset the sessions are in; none: split here, seed 42).")
@click.option("--cache", default=None,
              help="Folder where computed inputs (resampled microphone, ResNet-50 features, teacher outputs) are kept "
                   "(default: the dataset's .cache; none: in memory only).")
@click.option("--audio-teacher", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="localize: DualCamNet checkpoint for the audio hint.")
@click.option("--visual-teacher", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="localize: ResNet-50/AVNet checkpoint for the visual hint.")
@click.option("--map-hint", default=0.0, show_default=True, type=Checked(options.WEIGHT, "NUMBER"),
              help="localize: weight of the acoustic-image map hint (needs `acam beamform --features energy`).")
@click.option("--label-hint", default=0.0, show_default=True, type=Checked(options.WEIGHT, "NUMBER"),
              help="localize: weight of the class read out of the audio embedding and of the frame where the acoustic "
                   "camera's map peaks (one linear layer for both; needs --features energy).")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--device", default="auto", show_default=True, help="torch device: auto (cuda when present), cpu, cuda:N.")
@writes_files
def train(role, sessions, out, model, teacher, recipe, epochs, batch_size, crops, lr, weight_decay, seed, distill_kind, lam,
          temperature, hint_weight, alpha, train_scenario, test_scenario, image_size, video_per_second, visual_weights,
          audio_weights, split, cache, audio_teacher, visual_teacher, map_hint, label_hint, resume, device, overwrite, quiet):
    """Train a teacher or a student, distil a teacher into a student, or train an audio-visual
    localiser on SESSIONS (files or folders; each with its acoustic file beside it).

    ROLE is one of teacher, student, distill, localize."""
    models_extra("training")
    from ..io.acoustic import session_pairs

    pairs = session_pairs(sessions)
    done = [p for p in ("last.pt", "best.pt", "localizer.pt", "metrics.json") if (out / p).exists()]
    if done and not (overwrite or resume):
        raise AcamError(f"{out}: holds a run ({', '.join(done)}): pass --resume to continue it or --overwrite to replace it")
    from ..models.recipes import recipe as settings

    model = model or ("dualcamnet" if role == "teacher" else "hearnet")
    hp = settings(recipe, role, model, {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                                        "lam": lam, "temperature": temperature})
    epochs, batch_size, lr = hp["epochs"], hp["batch_size"], hp["lr"]
    if role == "localize":
        from ..models.localization import LocalizeConfig, train_localizer

        cfg = LocalizeConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                             audio_teacher=str(audio_teacher) if audio_teacher else None,
                             visual_teacher=str(visual_teacher) if visual_teacher else None, map_hint=map_hint, label_hint=label_hint,
                             split=str(split) if split else None)
        m = train_localizer(cfg, pairs, out, progress=not quiet)
        v = m["validation"]
        click.echo(f"localizer: held-out clips {v['clips']}: peak within {v['radius_px']:g} px "
                   f"{v['model']['within_radius']:.3f} (centre {v['centre']['within_radius']:.3f}, acoustic camera "
                   f"{v['acoustic_camera']['within_radius']:.3f}); {out / 'localizer.pt'}")
        return
    from ..models.train import TrainConfig, train as do_train

    cfg = TrainConfig(role=role, model=model, epochs=epochs, batch_size=batch_size, crops=crops, lr=lr, seed=seed,
                      distill=distill_kind,
                      lam=hp["lam"], temperature=hp["temperature"], weight_decay=hp["weight_decay"],
                      split=str(split) if split else None, cache=cache, audio_weights=str(audio_weights) if audio_weights else None,
                      hint_weight=hint_weight, alpha=alpha,
                      teacher=str(teacher) if teacher else None, train_scenario=train_scenario,
                      test_scenario=test_scenario, image_size=image_size, video_per_second=video_per_second,
                      visual_weights=str(visual_weights) if visual_weights else None, device=device)
    m = do_train(cfg, pairs, out, resume=resume, progress=not quiet)
    click.echo(f"{role} {model}: best validation accuracy {m['best_val_accuracy']:.3f}, test {m['test_accuracy']:.3f}, "
               f"train {m['train_accuracy']:.3f} (chance {m['chance']:.3f}); {out / 'metrics.json'}")


@main.command()
@sessions_argument
@click.option("--checkpoint", "checkpoints", multiple=True, required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A trained model (best.pt or localizer.pt); repeat for several columns.")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Also write the rows as JSON.")
@click.option("--picture", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Localisers: a PNG of similarity maps over their frames (truth green, peak white); with a "
                   "two-figure control also NAME.control.png (own audio beside shuffled; silent figure red).")
@click.option("--radius", default=64.0, show_default=True, type=Checked(options.PIXELS, "NUMBER"), help="Localisers: hit radius in pixels.")
@click.option("--device", default="auto", show_default=True, help="torch device: auto (cuda when present), cpu, cuda:N.")
@writes_files
def evaluate(sessions, checkpoints, json_out, picture, radius, device, overwrite, quiet):
    """Cross-scenario accuracy table of checkpoints on SESSIONS (train set x test set, one column
    per model, as in the paper); localisers: peak-pixel error against the simulated truth, and on
    sessions with a silent figure the two-figure control (own audio against another session's)."""
    models_extra("evaluation")
    from ..io.acoustic import session_pairs
    from ..io.atomic import atomic_output, check_output
    from ..models.evaluation import accuracy_table, evaluate as do_eval
    from ..models.controls import two_figure_control
    from ..models.localization import evaluate_localizer, is_localizer

    for p in (json_out, picture):
        if p is not None:
            check_output(p, overwrite)
    pairs = session_pairs(sessions)
    for c in checkpoints:
        if not c.is_file():
            raise AcamError(f"{c}: no such checkpoint")
    loc = [c for c in checkpoints if is_localizer(c)]
    cls = [c for c in checkpoints if c not in loc]
    report = {}
    if cls:
        rows = do_eval(cls, pairs, device)
        report["accuracy"] = rows
        click.echo(accuracy_table(rows))
        click.echo("(accuracy, with the number of clips; clips a model trained or validated on are left out)")
    for c in loc:
        r = evaluate_localizer(c, pairs, device, radius=radius, picture=picture, overwrite=overwrite)
        report.setdefault("localization", {})[str(c)] = r
        click.echo(f"{c}: {r['clips']} clips ({r['independent']} independent) with a visible, sounding source")
        click.echo(f"| method | within {radius:g} px | median error (px) | mean error (px) |\n|---|---:|---:|---:|")
        for k in ("model", "acoustic_camera", "centre"):
            click.echo(f"| {k.replace('_', ' ')} | {r[k]['within_radius']:.3f} | {r[k]['median_px']:.1f} | {r[k]['mean_px']:.1f} |")
        if r.get("picture"):
            click.echo(f"wrote {r['picture']}")
        ctl = two_figure_control(c, pairs, device, overwrite=overwrite,
                                 picture=picture.with_name(picture.stem + ".control.png") if picture else None)
        if ctl["clips"]:
            report["localization"][str(c)]["two_figure_control"] = ctl
            click.echo(f"two-figure control: {ctl['clips']} clips ({ctl['independent']} independent) with a heard and a "
                       "silent figure; peak nearer the heard one:")
            click.echo("| audio | on the heard figure, all clips | independent clips | 95 % interval (independent) |\n"
                       "|---|---:|---:|---:|")
            for k, name in (("own_audio", "the clip's own"), ("shuffled_audio", "another session's, where the silent class is heard"),
                            ("acoustic_camera", "(the acoustic camera)")):
                t, ti = ctl[k], ctl[k]["independent"]
                click.echo(f"| {name} | {t['on_heard']}/{t['clips']} = {t['fraction_on_heard']:.2f} | "
                           f"{ti['on_heard']}/{ti['clips']} = {ti['fraction_on_heard']:.2f} | {ti['ci95'][0]:.2f}-{ti['ci95'][1]:.2f} |")
            if ctl.get("picture"):
                click.echo(f"wrote {ctl['picture']}")
    if json_out:
        with atomic_output(json_out, overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(report, indent=2, default=float))


@main.command()
@sessions_argument
@click.option("--checkpoint", required=True, type=click.Path(dir_okay=False, path_type=Path), help="A trained model (best.pt).")
@click.option("--layer", default="embedding", show_default=True, type=click.Choice(LAYERS), help="Which layer to export.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Embeddings (.npz).")
@click.option("--transfer-to", "transfer_to", multiple=True, type=click.Path(path_type=Path),
              help="Also fit k-NN/SVM on SESSIONS and score on these sessions (repeatable).")
@click.option("--device", default="auto", show_default=True, help="torch device: auto (cuda when present), cpu, cuda:N.")
@writes_files
def features(sessions, checkpoint, layer, out, transfer_to, device, overwrite, quiet):
    """Export embeddings of SESSIONS from a chosen layer; optionally k-NN and linear-SVM transfer
    accuracy to other sessions."""
    models_extra("features")
    from ..io.acoustic import session_pairs
    from ..io.atomic import atomic_output, check_output
    from ..models.features import export_embeddings, transfer_scores

    check_output(out, overwrite)
    emb = export_embeddings(checkpoint, session_pairs(sessions), layer, device)
    with atomic_output(out, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **emb)
    click.echo(f"wrote {out}: {emb['x'].shape[0]} clips x {emb['x'].shape[1]} dimensions ({layer})")
    if transfer_to:
        r = transfer_scores(emb, export_embeddings(checkpoint, session_pairs(transfer_to), layer, device))
        click.echo(f"transfer: k-NN {r['knn']:.3f}, linear SVM {r['svm']:.3f} ({r['n_train']} -> {r['n_test']} clips)")


@main.group()
def experiment():
    """Experiments that reproduce published results."""


@experiment.command("paper")
@click.argument("dataset", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@click.option("--preset", default="small", show_default=True, type=click.Choice(EXPERIMENT_PRESET_NAMES),
              help="small: few epochs, 112-px crops, for CPUs; paper: the paper's recipe (100 epochs...).")
@click.option("--seeds", default=3, show_default=True, type=Checked(options.SEEDS, "INTEGER"), help="Seeds per model (mean and spread).")
@click.option("--visual-weights", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Local ImageNet ResNet-50 state_dict; without it the tables are flagged: random backbone.")
@click.option("--audio-weights", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Local pretrained SoundNet-5 layers 1-4.")
@click.option("--device", default="auto", show_default=True, help="torch device: auto (cuda when present), cpu, cuda:N.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def paper(dataset, out, preset, seeds, visual_weights, audio_weights, device, quiet):
    """The paper's Tables 1-3 on DATASET (made by `acam dataset make`): teachers, students from
    labels and distilled from each teacher, within and across scenarios, mean and spread over
    seeds; OUT/report.md and OUT/report.json. Rerun to resume: finished runs are kept."""
    import sys

    from tqdm import tqdm

    models_extra("the experiment")
    from ..models.experiment import run_experiment

    bar = []

    def progress(done, total, column, train_set, seed):
        if not bar:
            bar.append(tqdm(total=total, unit="run", disable=quiet, desc="experiment", file=sys.stderr))
        bar[0].update(done - bar[0].n)
        bar[0].set_postfix(run=f"seed {seed} {train_set} {column}")

    try:
        r = run_experiment(dataset, out, preset, seeds, visual_weights, audio_weights, device, progress)
    finally:
        for b in bar:
            b.close()
    click.echo((out / "report.md").read_text())
    click.echo(f"wrote {out / 'report.md'} and {out / 'report.json'} ({r['sessions']} sessions, {seeds} seeds)")
