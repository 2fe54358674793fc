"""``acam beamform``: a session's acoustic images into its acoustic file."""

from __future__ import annotations

from pathlib import Path

import click

from ..beamform.steering import STEERING
from ..constants import FOCUS_DISTANCE, NFFT, WINDOW
from ..errors import AcamError
from ..io.acoustic import FEATURES, VOLUME_DTYPES
from ..kernels.base import BACKENDS
from . import main
from .common import parse_band, progress_bar, session_argument, writes_files

BACKEND_CHOICES = ("auto",) + BACKENDS


def parse_focus(text: str) -> float | None:
    if text.lower() in ("inf", "infinity", "far"):
        return None
    try:
        d = float(text)
    except ValueError:
        d = float("nan")
    if not d > 0:
        raise AcamError(f"--focus-distance: expected metres > 0 or 'inf', found {text!r}")
    return d


@main.command()
@session_argument
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: SESSION.acoustic.h5 next to the session).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_CHOICES),
              help="Kernel backend; auto: cupy when a GPU is usable, else numba.")
@click.option("--focus-distance", default=str(FOCUS_DISTANCE), show_default=True,
              help="Metres to the focus plane, or 'inf' for the far field.")
@click.option("--grid", "grid_text", default="36x48", show_default=True, help="Acoustic image ROWSxCOLS.")
@click.option("--features", default="mfcc,energy", show_default=True,
              help=f"What to store: any of {', '.join(FEATURES)} (volumes: full 512-bin power, 42.5 MB/s).")
@click.option("--dtype", default="float32", show_default=True, type=click.Choice(VOLUME_DTYPES), help="Of stored volumes.")
@click.option("--steering", default="classic", show_default=True, type=click.Choice(STEERING),
              help="Steering formulation (Acoular's names).")
@click.option("--window", default=WINDOW, show_default=True, help="Frame window: tukeyALPHA, hann, hamming, blackman or rect.")
@click.option("--nfft", default=NFFT, show_default=True, type=int, help="Samples per acoustic frame.")
@click.option("--band", default="900:", show_default=True, help="Band for the energy map, LO:HI in Hz (HI empty: top bin).")
@click.option("--batch", default=24, show_default=True, type=int, help="Frames per kernel call.")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration file (acam calibrate): microphone gains applied, faulty microphones left out.")
@writes_files
def beamform(session, out, backend, focus_distance, grid_text, features, dtype, steering, window, nfft, band, batch,
             calibration, overwrite, quiet):
    """Acoustic images for every video frame of SESSION, into a separate file."""
    from ..array.grid import parse_grid
    from ..beamform.pipeline import beamform_session
    from ..io.acoustic import parse_features

    with progress_bar("beamform", "frame", quiet) as progress:
        r = beamform_session(session, out, features=parse_features(features), dtype=dtype, batch=batch,
                             band=parse_band(band), overwrite=overwrite, progress=progress, grid=parse_grid(grid_text),
                             focus_distance=parse_focus(focus_distance), nfft=nfft, window=window, steering=steering,
                             backend=backend, calibration=calibration)
    click.echo(f"wrote {r['path']}: {r['frames']} frames ({r['partial_frames']} with windows past the recording's ends, "
               f"zero-padded) in {r['seconds']:.1f} s ({r['setup_seconds']:.1f} s of set-up), then "
               f"{r['volumes_per_s']:.1f} volumes/s ({r['realtime_factor']:.1f}x real time), backend {r['backend']}")
