"""``acam calibrate``: measure a rig once, apply it to every session (``acam beamform
--calibration FILE``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AcamError
from . import main
from .common import parse_band, progress_bar, session_argument, writes_files


@main.group()
def calibrate():
    """Calibration of the rig (microphones); writes an acam calibration file (.json)."""


def parse_xyz(text: str) -> tuple[float, float, float]:
    try:
        v = tuple(float(x) for x in text.split(","))
    except ValueError:
        v = ()
    if len(v) != 3:
        raise AcamError(f"--source: expected X,Y,Z in metres (array frame), found {text!r}")
    return v


@calibrate.command("array")
@session_argument
@click.option("--source", "source", required=True, help="The reference source's position X,Y,Z in metres (array frame).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration file (.json).")
@click.option("--band", default="500:5000", show_default=True, help="Band the gains are measured in, LO:HI Hz.")
@writes_files
def calibrate_array(session, source, out, band, overwrite, quiet):
    """Microphone gains per bin and faulty channels, from SESSION: a recording of a broadband
    source (a loudspeaker playing noise) at a known place, well off the array's axis."""
    from ..calibration.microphones import calibrate_microphones
    from ..io.atomic import check_output
    from ..io.calibration import write_calibration

    check_output(out, overwrite, inputs=(session,))
    lo, hi = parse_band(band)
    if hi is None:
        raise AcamError(f"--band {band}: expected LO:HI in Hz with both ends given")
    with progress_bar("cross-spectra", "frame", quiet) as progress:
        cal = calibrate_microphones(session, parse_xyz(source), (lo, hi), progress=progress)
    write_calibration(out, cal, overwrite=overwrite)
    mc = cal.microphones
    click.echo(f"wrote {out}: gains of {mc.gains.shape[0]} microphones over {lo:g}-{hi:g} Hz; "
               f"{len(mc.faults)} fault(s), {len(mc.excluded)} microphone(s) excluded")
    for f in mc.faults:
        click.echo(f"  mic {f.mic:3d}  {f.fault:9s} {'excluded' if f.exclude else 'kept    '}  {f.detail}")
