"""``acam array design``: the seeded optimizer that produced the ``dualcam128`` layout, every
option of :func:`acoustic_camera.array.design.design_layout` exposed."""

from __future__ import annotations

import inspect
from pathlib import Path

import click

from . import main
from .common import writes_files


def _default(name):
    # the optimizer's own defaults are the one source of the CLI's; numba is only loaded to run it
    from ..array import design

    return inspect.signature(design.design_layout).parameters[name].default


def _fmt(v) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


@main.group()
def array():
    """Array layouts: design the optimized DualCam layout, compare PSL."""


_OPTIONS = [
    ("--n-mics", "n_mics", int, "Microphones."),
    ("--board", "board", float, "Square board side, metres."),
    ("--min-spacing", "min_spacing", float, "Minimum microphone spacing, metres."),
    ("--f-lo", "f_lo", float, "Lowest design frequency, Hz."),
    ("--f-hi", "f_hi", float, "Highest design frequency, Hz."),
    ("--n-freqs", "n_freqs", int, "Design frequencies, log-spaced."),
    ("--seed", "seed", int, "Seed of the start layout and the search."),
    ("--iterations", "iterations", int, "Proposed moves (the shipped design's by default)."),
    ("--p", "p", int, "Exponent of the p-norm cost (larger: closer to the peak)."),
    ("--sigma-start", "sigma_start", float, "First step size, metres."),
    ("--sigma-end", "sigma_end", float, "Last step size, metres."),
    ("--temperature", "temperature", float, "Initial annealing temperature, dB of cost (0: greedy)."),
    ("--oversampling", "oversampling", int, "Wavenumber lattice points per main-lobe width."),
    ("--edge-guard", "edge_guard", float, "Sampled region beyond each frequency's edge, in 1/board."),
    ("--u-max", "u_max", float, "Sidelobe region radius in direction cosines (default: the camera's view)."),
    ("--mainlobe", "mainlobe", float, "Main-lobe exclusion radius, lambda/aperture."),
    ("--chunk", "chunk", int, "Iterations per chunk (random draws and progress per chunk)."),
]


def _with_design_options(f):
    for flag, name, kind, text in reversed(_OPTIONS):
        f = click.option(flag, name, default=None, type=kind, help=f"{text} [default: {_fmt(_default(name))}]")(f)
    return f


@array.command("design")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for NAME.xml (the layout) and NAME_design.json (the design record).")
@click.option("--name", default="dualcam128", show_default=True, help="Layout name: file stem and XML name.")
@_with_design_options
@writes_files
def array_design(out_dir, name, overwrite, quiet, **options):
    """Run the seeded PSL optimizer that produced the dualcam128 layout; print its PSL against
    a random layout and the 16x8 grid."""
    from ..array.design import markdown_table, write_design
    from .common import progress_bar

    kw = {k: v for k, v in options.items() if v is not None}
    with progress_bar("design", "it", quiet, unit_scale=True) as bar:
        rec = write_design(out_dir, name=name, overwrite=overwrite, progress=lambda done, total, cost: bar(done, total), **kw)
    pr = rec["params"]
    click.echo(f"wrote {rec['xml']} and {rec['json']} ({rec['runtime_s']:.1f} s, "
               f"{pr['accepted_moves']} of {pr['iterations']} moves accepted)")
    click.echo("\nPSL (dB)\n" + markdown_table(rec["psl_table"]))
    click.echo("\n-3 dB main-lobe width (deg)\n" + markdown_table(rec["mainlobe_widths"]))
