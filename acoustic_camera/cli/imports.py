"""``acam import dualcam`` and ``acam import dualcam-mfcc``: recordings of the DualCam itself."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog import SCENARIOS
from ..constants import DUALCAM_BROKEN_MICS
from . import main
from .common import parse_numbers, progress_bar, session_argument, writes_files


@main.group("import")
def import_():
    """Turn recordings made with the DualCam itself into acam files."""


@import_.command("dualcam")
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Session file to write.")
@click.option("--broken", default=",".join(map(str, DUALCAM_BROKEN_MICS)), show_default=True,
              help="Microphones to mark bad (0-based), comma-separated; empty for none.")
@click.option("--label", default="", help="Class label to store.")
@click.option("--subject", default="", help="Subject to store.")
@click.option("--scenario", default="", type=click.Choice(("",) + SCENARIOS), help="Scenario (recording place) to store.")
@writes_files
def import_dualcam_cmd(src, out, broken, label, subject, scenario, overwrite, quiet):
    """DualCam dumps (A_%06d.dc audio + I_%06d.bmp/.jpeg frames, 1024 samples per frame at
    12 fps = 12288 Hz) in SRC (or SRC/audio and SRC/video) -> a session file."""
    from ..io.dualcam import import_dualcam

    mics = parse_numbers(broken, "--broken", int) if broken.strip() else ()
    with progress_bar("import", "frame", quiet) as progress:
        r = import_dualcam(src, out, broken_mics=mics, overwrite=overwrite, progress=progress,
                           metadata={"label": label, "subject": subject, "scenario": scenario})
    click.echo(f"wrote {r['path']}: {r['frames']} frames, {r['samples']} samples x {r['channels']} channels at "
               f"{r['sample_freq']:g} Hz; bad mics {list(r['bad_mics'])}")


@import_.command("dualcam-mfcc")
@session_argument
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Acoustic file to write (default: SESSION.acoustic.h5 next to the session).")
@writes_files
def import_dualcam_mfcc_cmd(session, src, out, overwrite, quiet):
    """Precomputed DualCam MFCC acoustic images (SRC = MFCC_Image/ with Data_%d.mat, key MFCC,
    36x48x12) of SESSION -> the acoustic file `acam beamform` writes for MFCC features."""
    from ..io.acoustic import acoustic_path_for
    from ..io.dualcam import import_dualcam_mfcc

    r = import_dualcam_mfcc(src, session, out or acoustic_path_for(session), overwrite=overwrite)
    click.echo(f"wrote {r['path']}: {r['frames']} MFCC images ({r['padded_frames']} zero-padded to 12 coefficients)")
