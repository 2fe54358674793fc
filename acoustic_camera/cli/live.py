"""``acam live``: acoustic images over the video while recording, in a browser."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from ..catalog import SCENARIOS
from ..constants import SAMPLE_FREQ, VIDEO_FPS
from . import main
from .beamform import BACKEND_CHOICES
from .capture import _StopSignals, exit_after_device_loss
from .. import options
from .common import Checked, parse_band


def _preroll(value, name):
    if str(value).strip().lower() in ("inf", "infinity"):
        return float("inf")
    return options.PREROLL_SECONDS(value, name)


@main.command()
@click.option("--simulated", is_flag=True, help="Play the simulated DualCam in real time (the default when no --audio-device is named).")
@click.option("--audio-device", default=None, help="PortAudio input device, index or name (see `acam devices`).")
@click.option("--channels", default=None, type=Checked(options.CHANNELS, "INTEGER"), help="Channels to record (default: the geometry's microphones).")
@click.option("--camera", default=None, help="Camera index, video file or stream URL.")
@click.option("--blocksize", default=1024, show_default=True, type=Checked(options.BLOCKSIZE, "INTEGER"), help="Samples per audio block.")
@click.option("--ring-seconds", default=4.0, show_default=True, type=Checked(options.RING_SECONDS, "NUMBER"), help="Audio ring buffer length.")
@click.option("--rate", default=SAMPLE_FREQ, show_default=True, type=Checked(options.SAMPLE_RATE, "NUMBER"), help="Audio sample rate in Hz.")
@click.option("--geometry", default="dualcam128", show_default=True, help="Array preset (dualcam128, uma16) or Acoular XML file.")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration file (`acam calibrate`): microphone gains, camera intrinsics and pose for the images.")
@click.option("--record", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the session to this file, exactly as `acam capture` would.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --record file.")
@click.option("--duration", default=None, type=Checked(options.CAPTURE_SECONDS, "NUMBER"), help="Seconds to run (simulated: default 60; a device: until Ctrl-C).")
@click.option("--scenario", default="anechoic", show_default=True, type=click.Choice(SCENARIOS), help="Simulated recording place.")
@click.option("--sources", default="clapping:walk", show_default=True, help="Simulated sources, as for `acam capture`.")
@click.option("--seed", default=0, show_default=True, type=Checked(options.SEED, "INTEGER"), help="Simulated: seed.")
@click.option("--subject", default=None, type=click.IntRange(min=0), help="Simulated: who makes the sounds.")
@click.option("--no-noise", is_flag=True, help="Simulated: leave out background, wind and sensor noise.")
@click.option("--preroll", default=2.0, show_default=True, type=Checked(_preroll, "SECONDS"),
              help="Simulated: seconds simulated before the clock starts ('inf': all of it).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the page is served on (127.0.0.1: this computer only).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port of the page (0: any free one).")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="URL",
              help="Also accept the view's WebSocket from pages of this origin (http[s]://host[:port]), and answer "
                   "requests naming its host (e.g. a reverse proxy); repeatable. By default only the page's own "
                   "origin is accepted.")
@click.option("--band", default="900:", show_default=True, help="Band shown, LO:HI Hz (changeable on the page).")
@click.option("--range", "dynamic_range", default=12.0, show_default=True, type=Checked(options.LIVE_RANGE_DB, "NUMBER"), help="Dynamic range below each picture's peak, dB.")
@click.option("--method", default="kernel", show_default=True,
              help="kernel (delay-and-sum per frame, all 512 bins) or a short-time method: das, das-diag, functional, capon, cleansc.")
@click.option("--csm-frames", default=12, show_default=True, type=Checked(options.LIVE_CSM_FRAMES, "INTEGER"), help="Frames per CSM for the short-time methods.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_CHOICES),
              help="Kernel backend; auto: cupy when a GPU is usable, else numba.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def live(simulated, audio_device, channels, camera, blocksize, ring_seconds, rate, geometry, calibration, record,
         overwrite, duration, scenario, sources, seed, subject, no_noise, preroll, host, port, allow_origins, band,
         dynamic_range, method, csm_frames, backend, quiet):
    """See where the sound comes from while recording: a page at http://HOST:PORT/ shows the
    video with the acoustic image over it, its dB scale, and controls for band, dynamic range
    and method.

    The audio is never held up by the view: a slow computer or a slow browser shows fewer
    pictures, never a gap in --record. Ctrl-C stops everything (the recording is closed
    cleanly); the page's "stop view" stops only the view."""
    from ..array.geometry import load_geometry
    from ..errors import AcamError
    from ..io.atomic import check_output
    from ..view.live.imager import ViewSettings
    from ..view.live.run import DeviceSource, SimulatedSource, run_live
    from ..view.live.server import origin

    if simulated and audio_device is not None:
        raise AcamError("--simulated and --audio-device: choose one source")
    allow_origins = tuple(origin(o, "--allow-origin") for o in allow_origins)
    if record is not None:
        check_output(record, overwrite)
    settings = ViewSettings(band=parse_band(band), dynamic_range_db=dynamic_range, method=method, csm_frames=csm_frames)
    geom = load_geometry(geometry)
    if audio_device is None:
        from ..sim.simulator import SimConfig
        from ..sim.trajectories import parse_sources

        cfg = SimConfig(scenario=scenario, duration=60.0 if duration is None else duration, sample_freq=rate,
                        video_fps=VIDEO_FPS, sources=parse_sources(sources), seed=seed, subject=subject, geometry=geom,
                        noise=not no_noise)
        src = SimulatedSource(cfg, preroll)
    else:
        src = DeviceSource(audio_device, geom, rate, channels, camera, duration, blocksize, ring_seconds)

    def on_url(url):
        click.echo(f"acam live: {url}  (open it in a browser; Ctrl-C stops{' the view and the recording' if record else ''})")
        sys.stdout.flush()

    with _StopSignals() as stop:
        r = run_live(src, settings=settings, host=host, port=port, record=record, overwrite=overwrite,
                     calibration=calibration, backend=backend, should_stop=lambda: stop.reason, on_url=on_url,
                     allow_origins=allow_origins)
    v = r["view"]
    rec = f"; recorded {record} ({r['duration_s']:.2f} s)" if record else ""
    if "late_max_s" in r:
        rec += f"; audio released at most {r['late_max_s'] * 1e3:.0f} ms late"
    click.echo(f"acam live: {v.get('pictures', 0)} pictures ({v.get('pictures_per_s', 0):.1f}/s, median "
               f"{v.get('compute_ms_median') or 0:.0f} ms each, {v.get('skipped', 0)} frames skipped), "
               f"{v.get('sent', 0)} sent to pages, CPU {v['cpu_cores']:.2f} cores{rec}")
    if r.get("stalls"):
        click.echo(f"acam live: the simulation fell behind real time {r['stalls']} times ({r['stall_s']:.1f} s in all); "
                   "the clock waited, no audio was lost (--preroll inf simulates it all first)", err=True)
    if r.get("dropped_blocks"):
        click.echo(f"acam live: {r['dropped_blocks']} audio blocks were lost ({r['gap_samples']} samples stored as gaps)", err=True)
    if r.get("device_lost"):
        click.echo(f"acam: error: {r['device_lost']}{'; ' + str(record) + ' closed cleanly with what arrived' if record else ''}",
                   err=True)
        exit_after_device_loss(r)
    if r["stopped_by"]:
        sig = r["stopped_by"].split()[-1]  # the simulated player says "SIGINT", the capture "stopped by SIGINT"
        click.echo(f"acam live: stopped by {sig}{'; ' + str(record) + ' closed cleanly' if record else ''}", err=True)
        sys.exit(128 + int(signal.Signals[sig]))
