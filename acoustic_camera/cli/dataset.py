"""``acam dataset make``: a simulated dataset in the DualCam action dataset's layout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..catalog import SCENARIOS, SOUND_CLASSES
from .. import options
from . import main
from .common import Checked, human_bytes


def _names(text, option, allowed):
    from ..errors import AcamError

    names = tuple(n.strip() for n in text.split(",") if n.strip()) if text else None
    for n in names or ():
        if n not in allowed:
            raise AcamError(f"{option}: expected names from {', '.join(allowed)}, found {n!r}")
    return names


@main.group()
def dataset():
    """Make datasets of simulated sessions."""


@dataset.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--preset", default="small", show_default=True, type=click.Choice(("small", "paper", "tiny")),
              help="small: 14 actions x 3 scenarios x 3 subjects x 20 s; paper: x 9 subjects x 30 s; tiny: for tests.")
@click.option("--scenarios", default=None, help=f"Comma-separated, from {', '.join(SCENARIOS)} (default: the preset's).")
@click.option("--classes", default=None, help="Comma-separated actions (default: the preset's; all 14 but in tiny).")
@click.option("--subjects", default=None, type=Checked(options.SUBJECTS, "INTEGER"), help="Subjects 1..N (default: the preset's).")
@click.option("--seconds", default=None, type=Checked(options.SIM_SECONDS, "NUMBER"), help="Seconds per session (default: the preset's).")
@click.option("--seed", default=0, show_default=True, type=Checked(options.SEED, "INTEGER"), help="Base of every session's seed.")
@click.option("--workers", default=None, type=Checked(options.WORKERS, "INTEGER"), help="Sessions made at once (default: one per core).")
@click.option("--ray", "ray", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run the sessions as Ray tasks: on a local instance started for the run, or on the cluster at "
                   "ADDRESS (e.g. auto, or ray://host:10001; OUT must be on a filesystem every node shares).")
@click.option("--keep", default="all", show_default=True, type=click.Choice(("all", "training")),
              help="all: the 128-channel sessions; training: microphone 0, JPEG video and the acoustic file only.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def make(out, preset, scenarios, classes, subjects, seconds, seed, workers, ray, keep, quiet):
    """Make (or finish) the dataset OUT: OUT/SCENARIO/subject-NN/ACTION/ holds each session and its
    acoustic file (MFCC + energy); OUT/manifest.csv lists the sessions; OUT/split.json is the one
    train/validation/test split every later run uses. Run it again to finish an interrupted or
    failed run: finished sessions are never redone."""
    from tqdm import tqdm

    from ..dataset.make import make_dataset
    from ..dataset.presets import PRESETS, plan

    jobs = plan(preset, _names(scenarios, "--scenarios", SCENARIOS), subjects, seconds,
                _names(classes, "--classes", SOUND_CLASSES), seed)
    click.echo(f"{out}: {len(jobs)} sessions ({PRESETS[preset].note if not (scenarios or classes or subjects or seconds) else 'preset ' + preset + ', changed'})"
               + (f" on Ray ({'local' if ray == 'local' else ray})" if ray else ""))
    bar, failed = [], []

    def progress(done, total, row):
        if not bar:
            bar.append(tqdm(total=total, unit="session", disable=quiet, desc="dataset", file=sys.stderr))
        if row is not None:
            failed.extend([row["path"]] if row["status"] == "failed" else [])
            bar[0].update(1)
            bar[0].set_postfix(failed=len(failed))

    try:
        r = make_dataset(out, jobs, keep=keep, workers=workers, use_ray=bool(ray),
                         ray_address=None if ray in (None, "local") else ray, progress=progress)
    finally:
        for b in bar:
            b.close()
    click.echo(f"made {r['made']}, already done {r['skipped']}, failed {r['failed']} of {r['sessions']} sessions in "
               f"{r['seconds']:.0f} s ({r['sessions_per_hour']:.0f} sessions/hour, {r['realtime_factor']:.2f}x real time, "
               f"{r['raw_mb_per_s']:.1f} MB/s of array audio); {human_bytes(r['disk_bytes'])} on disk (--keep {keep})")
    for e in r["errors"]:
        click.echo(f"acam: failed: {e}", err=True)
    if r["split"]:
        click.echo(f"split: {r['split']}")
    else:
        click.echo("acam: the split is written once every session is done: run the same command again to retry the "
                   "failed ones", err=True)
        sys.exit(1)
