"""``acam export``: a session's audio as WAV, an acoustic file's maps as .npz or .csv."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import parse_numbers, progress_bar, writes_files


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wav", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write a session's audio as a multichannel WAV (RF64 past 4 GB).")
@click.option("--channels", default=None, help="With --wav: channels to write, comma-separated (default: all).")
@click.option("--subtype", default="float32", show_default=True, type=click.Choice(("float32", "pcm24", "pcm16")),
              help="With --wav: sample format.")
@click.option("--maps", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write an acoustic file's band-energy maps with their grid: .npz (arrays) or .csv (one row per "
                   "frame and cell).")
@writes_files
def export(file, wav, channels, subtype, maps, overwrite, quiet):
    """FILE's contents in formats other tools read: a session's audio (--wav) or an acoustic
    file's maps (--maps; FILE may also be the session, whose acoustic file is used)."""
    from ..errors import AcamError

    if (wav is None) == (maps is None):
        raise AcamError("acam export: expected exactly one of --wav OUT.wav (a session's audio) and --maps OUT.npz|csv")
    if wav is not None:
        from ..io.export import export_wav

        chans = parse_numbers(channels, "--channels", int) if channels else None
        with progress_bar("export", "sample", quiet, unit_scale=True) as progress:
            r = export_wav(file, wav, channels=chans, subtype=subtype, overwrite=overwrite, progress=progress)
        click.echo(f"wrote {r['path']}: {r['samples'] / r['sample_freq']:.2f} s x {r['channels']} channels at "
                   f"{r['sample_freq']:g} Hz ({subtype}), peak {r['peak']:.4g}")
        if r["note"]:
            click.echo(f"acam: warning: {r['note']}", err=True)
        return
    from ..io.acoustic import acoustic_path_for, is_acoustic_path
    from ..io.export import export_maps

    src = file if is_acoustic_path(file) else acoustic_path_for(file)
    r = export_maps(src, maps, overwrite=overwrite)
    click.echo(f"wrote {r['path']}: {r['frames']} maps of {r['grid'][0]}x{r['grid'][1]} cells, band "
               f"{r['band'][0]:g}-{r['band'][1] if r['band'][1] is not None else 'top'} Hz")
