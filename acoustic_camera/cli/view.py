"""``acam render`` (overlay video or picture) and ``acam plot array|spectrum``."""

from __future__ import annotations

from pathlib import Path

import click

from ..array.geometry import PRESETS
from .. import options
from . import main
from .beamform import BACKEND_CHOICES
from .common import Checked, method_options, method_spec, parse_band, parse_numbers, progress_bar, session_argument, writes_files


@main.command()
@session_argument
@click.option("--acoustic", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Output of `acam beamform` (default: SESSION.acoustic.h5 if present, else beamform on the fly).")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Overlay video (.mp4).")
@click.option("--frame", default=None, type=Checked(options.FRAME, "INTEGER"), help="Frame index for --png (default 0).")
@click.option("--png", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Write one frame as PNG.")
@click.option("--band", default="900:", show_default=True, help="Band LO:HI in Hz (HI empty: top bin).")
@click.option("--range", "dyn_range", default=12.0, show_default=True, type=Checked(options.RANGE_DB, "NUMBER"), help="Dynamic range in dB below the maximum.")
@click.option("--reference", default="frame", show_default=True, type=click.Choice(["frame", "session"]),
              help="Top of the scale: each frame's maximum or the session's.")
@click.option("--side-by-side", is_flag=True, help="Video, acoustic image and overlay next to each other.")
@click.option("--truth", is_flag=True, help="Mark the true source pixels (simulated sessions).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_CHOICES),
              help="Kernel backend when beamforming on the fly.")
@method_options
@writes_files
def render(session, acoustic, out, frame, png, band, dyn_range, reference, side_by_side, truth, backend, method, csm_frames,
           nu, loading, clean_gain, clean_steps, bin_weighting, overwrite, quiet):
    """Draw the acoustic image of every frame over the video (MP4), or one frame (PNG)."""
    from ..view.render import RenderOptions, render as do_render

    opts = RenderOptions(dynamic_range_db=dyn_range, reference=reference, band=parse_band(band),
                         side_by_side=side_by_side, truth=truth)
    with progress_bar("render", "frame", quiet) as progress:
        r = do_render(session, out=out, png=png, frame=frame, acoustic=acoustic, opts=opts, backend=backend,
                      overwrite=overwrite, progress=progress,
                      method=method_spec(method, csm_frames, nu, loading, clean_gain, clean_steps, bin_weighting))
    if "mp4" in r:
        click.echo(f"wrote {r['mp4']}: {r['frames']} frames {r['size'][0]}x{r['size'][1]} at {r['fps']:g} fps (energy from {r['energy_from']})")
    if "png" in r:
        click.echo(f"wrote {r['png']}")


@main.group()
def plot():
    """Pictures: the array and its beampattern, a pixel's spectrum over time, a calibration."""


@plot.command("array")
@click.option("--geometry", default="dualcam128", show_default=True, help=f"Preset ({', '.join(PRESETS)}) or Acoular XML file.")
@click.option("--freqs", default="1000,2000,4000,6000", show_default=True, help="Beampattern frequencies, Hz.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Picture to write (.png or .svg).")
@writes_files
def plot_array_cmd(geometry, freqs, out, overwrite, quiet):
    """The microphone layout (bad mics marked) and its beampatterns with the PSL written on."""
    from ..array.geometry import load_geometry
    from ..view.plots import plot_array

    plot_array(load_geometry(geometry), parse_numbers(freqs, "--freqs"), out, overwrite=overwrite)
    click.echo(f"wrote {out}")


@plot.command("calibration")
@click.argument("calibration", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Picture to write (.png or .svg).")
@writes_files
def plot_calibration_cmd(calibration, out, overwrite, quiet):
    """Every microphone's gain and phase against frequency from CALIBRATION (acam calibrate),
    the faulty ones marked with their fault."""
    from ..view.plots import plot_calibration

    plot_calibration(calibration, out, overwrite=overwrite)
    click.echo(f"wrote {out}")


@plot.command("spectrum")
@session_argument
@click.option("--pixel", default=None, help="Acoustic pixel ROW,COL.")
@click.option("--truth", is_flag=True, help="Follow the first source's true pixel (simulated sessions).")
@click.option("--acoustic", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="acam beamform output with volumes (default: beamform on the fly).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Picture to write (.png or .svg).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_CHOICES),
              help="Kernel backend when beamforming on the fly.")
@writes_files
def plot_spectrum_cmd(session, pixel, truth, acoustic, out, backend, overwrite, quiet):
    """Spectrogram of one acoustic pixel over time, beside the single-microphone spectrogram."""
    from ..errors import AcamError
    from ..view.plots import plot_spectrum

    if (pixel is None) == (not truth):
        raise AcamError("plot spectrum: expected exactly one of --pixel ROW,COL and --truth")
    rc = parse_numbers(pixel, "--pixel", int, 2) if pixel is not None else None
    plot_spectrum(session, out, pixel=rc, truth=truth, acoustic=acoustic, backend=backend, overwrite=overwrite)
    click.echo(f"wrote {out}")
