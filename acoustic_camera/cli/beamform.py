"""``acam beamform``: a session's acoustic images into its acoustic file."""

from __future__ import annotations

from pathlib import Path

import click

from ..beamform.steering import STEERING
from ..constants import FOCUS_DISTANCE, NFFT, WINDOW
from ..errors import AcamError
from ..io.acoustic import FEATURES, VOLUME_DTYPES
from ..kernels.base import BACKENDS
from .. import options
from . import main
from .common import Checked, method_options, method_spec, parse_band, progress_bar, session_argument, writes_files

BACKEND_CHOICES = ("auto",) + BACKENDS


def parse_focus(text: str) -> float | None:
    """Metres to the focus plane, or None (far field) for 'inf'."""
    if text.lower() in ("inf", "infinity", "far"):
        return None
    try:
        return options.METRES(text, "--focus-distance")
    except AcamError:
        raise AcamError(f"--focus-distance: expected metres ({options.METRES.describe()}) or 'inf', found {text[:40]!r}") from None


@main.command()
@session_argument
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: SESSION.acoustic.h5 next to the session).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_CHOICES),
              help="Kernel backend; auto: cupy when a GPU is usable, else numba.")
@click.option("--focus-distance", default=str(FOCUS_DISTANCE), show_default=True,
              help="Metres to the focus plane, or 'inf' for the far field.")
@click.option("--grid", "grid_text", default="36x48", show_default=True, help="Acoustic image ROWSxCOLS.")
@click.option("--features", default=None,
              help=f"What to store: any of {', '.join(FEATURES)} (volumes: full 512-bin power, 42.5 MB/s). "
                   "Default: mfcc,energy; with --method: energy, the only one it makes.")
@click.option("--dtype", default="float32", show_default=True, type=click.Choice(VOLUME_DTYPES), help="Of stored volumes.")
@click.option("--steering", default="classic", show_default=True, type=click.Choice(STEERING),
              help="Steering formulation (Acoular's names).")
@click.option("--window", default=WINDOW, show_default=True, help="Frame window: tukeyALPHA, hann, hamming, blackman or rect.")
@click.option("--nfft", default=NFFT, show_default=True, type=Checked(options.NFFT, "INTEGER"), help="Samples per acoustic frame.")
@click.option("--band", default="900:", show_default=True, help="Band for the energy map, LO:HI in Hz (HI empty: top bin).")
@click.option("--batch", default=24, show_default=True, type=Checked(options.BATCH, "INTEGER"), help="Frames per kernel call.")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration file (acam calibrate): microphone gains applied, faulty microphones left out.")
@method_options
@writes_files
def beamform(session, out, backend, focus_distance, grid_text, features, dtype, steering, window, nfft, band, batch,
             calibration, method, csm_frames, nu, loading, clean_gain, clean_steps, bin_weighting, overwrite, quiet):
    """Acoustic images for every video frame of SESSION, into a separate file."""
    from ..array.grid import parse_grid
    from ..beamform.pipeline import beamform_session
    from ..io.acoustic import parse_features

    spec = method_spec(method, csm_frames, nu, loading, clean_gain, clean_steps, bin_weighting)
    features = features or ("energy" if spec else "mfcc,energy")
    with progress_bar("beamform", "frame", quiet) as progress:
        r = beamform_session(session, out, features=parse_features(features), method=spec, dtype=dtype, batch=batch,
                             band=parse_band(band), overwrite=overwrite, progress=progress, grid=parse_grid(grid_text),
                             focus_distance=parse_focus(focus_distance), nfft=nfft, window=window, steering=steering,
                             backend=backend, calibration=calibration)
    click.echo(f"wrote {r['path']}: {r['frames']} frames ({r['partial_frames']} with windows past the recording's ends, "
               f"zero-padded) in {r['seconds']:.1f} s ({r['setup_seconds']:.1f} s of set-up), then "
               f"{r['volumes_per_s']:.1f} {'maps' if spec else 'volumes'}/s ({r['realtime_factor']:.1f}x real time), backend "
               f"{r['backend']}" + (f", method {spec.method} on {spec.csm_frames}-frame CSMs" if spec else ""))
    if r.get("nonfinite"):
        click.echo(f"acam: warning: {session}: {r['nonfinite']}", err=True)


@main.command()
@session_argument
@click.option("--pixel", default=None, help="Listen to acoustic pixel ROW,COL (of --grid).")
@click.option("--truth", default=None, type=Checked(options.FRAME, "INTEGER"), is_flag=False, flag_value=0,
              help="Follow simulated source S (default 0) frame by frame.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="WAV file to write.")
@click.option("--method", default="das", show_default=True, type=click.Choice(("das", "mvdr")),
              help="Delay-and-sum, or MVDR (separates a quiet source from a loud one; slower).")
@click.option("--band", default=None, help="Keep only LO:HI Hz (HI empty: top bin); default: everything.")
@click.option("--grid", "grid_text", default="36x48", show_default=True, help="Acoustic grid of --pixel, ROWSxCOLS.")
@click.option("--steering", default="classic", show_default=True, type=click.Choice(STEERING), help="Steering formulation.")
@click.option("--csm-frames", default=12, show_default=True, type=Checked(options.CSM_FRAMES, "INTEGER"), help="MVDR: video frames per covariance.")
@click.option("--loading", default=10.0, show_default=True, type=Checked(options.LOADING, "NUMBER"),
              help="MVDR: diagonal loading, times the mean microphone power.")
@writes_files
def listen(session, pixel, truth, out, method, band, grid_text, steering, csm_frames, loading, overwrite, quiet):
    """The sound of one place in the picture: SESSION beamformed toward a pixel, or following a
    simulated source, written as a WAV at the session's rate."""
    from ..array.grid import parse_grid
    from ..beamform.listen import ListenSpec, listen as do_listen, write_wav
    from ..io.atomic import check_output
    from .common import parse_numbers

    if (pixel is None) == (truth is None):
        raise AcamError("listen: expected exactly one of --pixel ROW,COL and --truth [S]")
    check_output(out, overwrite, inputs=(session,))
    spec = ListenSpec(method, steering=steering, band=parse_band(band) if band else None, csm_frames=csm_frames,
                      loading=loading)
    rc = parse_numbers(pixel, "--pixel", int, 2) if pixel is not None else None
    with progress_bar("listen", "sample", quiet, unit_scale=True) as progress:
        y, fs = do_listen(session, pixel=rc, truth=truth, spec=spec, grid=parse_grid(grid_text), progress=progress)
    write_wav(out, y, fs, overwrite=overwrite)
    peak = float(abs(y).max()) if y.size else 0.0
    click.echo(f"wrote {out}: {y.size / fs:.2f} s at {fs:g} Hz ({method}, "
               f"{'pixel ' + pixel if pixel else 'following source ' + str(truth)}), peak {peak:.3g} Pa")
