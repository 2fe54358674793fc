"""``acam capture`` (simulated DualCam or a live PortAudio array + camera) and ``acam devices``."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from ..catalog import SCENARIOS
from ..constants import SAMPLE_FREQ, VIDEO_FPS
from .. import options
from . import main
from .common import Checked, human_bytes, parse_numbers, progress_bar, writes_files


class _StopSignals:
    """SIGINT and SIGTERM only raise a flag the capture loop polls, and the handlers the process
    had before are restored on the way out. (An exception thrown from a signal handler can land
    in a callback that swallows it, e.g. weakref cleanup, and Ctrl-C would be lost; installing
    SIGINT also overrides an 'ignore' inherited from a shell that started us in the background.)"""

    def __init__(self):
        self.reason = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum, frame):
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Session file to write (.h5).")
@click.option("--duration", default=None, type=Checked(options.CAPTURE_SECONDS, "NUMBER"), help="Seconds to record (simulated: default 10; live: until Ctrl-C).")
@click.option("--audio-device", default=None, help="Live capture: PortAudio input device, index or name (see `acam devices`).")
@click.option("--channels", default=None, type=Checked(options.CHANNELS, "INTEGER"), help="Live capture: channels to record (default: the geometry's microphones).")
@click.option("--camera", default=None, help="Live capture: camera index, video file or stream URL.")
@click.option("--blocksize", default=1024, show_default=True, type=Checked(options.BLOCKSIZE, "INTEGER"), help="Live capture: samples per audio block.")
@click.option("--ring-seconds", default=4.0, show_default=True, type=Checked(options.RING_SECONDS, "NUMBER"), help="Live capture: audio ring buffer length.")
@click.option("--debug-stall-writer", default=None, hidden=True, help="AT,FOR seconds: stall the writer on purpose.")
@click.option("--scenario", default="anechoic", show_default=True, type=click.Choice(SCENARIOS), help="Simulated recording place.")
@click.option("--sources", default="clapping:walk", show_default=True,
              help="Simulated sources LABEL[:static|:walk][:silent][@X,Y,Z] (metres, array frame: x right, y down, z forward; "
                   ":silent draws the figure performing but radiates nothing).")
@click.option("--seed", default=0, show_default=True, type=Checked(options.SEED, "INTEGER"), help="Seed: equal seeds give identical simulated sessions.")
@click.option("--subject", default=None, type=click.IntRange(min=0),
              help="Simulated: who makes the sounds; a subject's voice, tempo, loudness, place and looks are the same in "
                   "every session (default: drawn from the seed).")
@click.option("--rate", default=SAMPLE_FREQ, show_default=True, type=Checked(options.SAMPLE_RATE, "NUMBER"), help="Audio sample rate in Hz (12288 is the recorded DualCam rate).")
@click.option("--fps", default=VIDEO_FPS, show_default=True, type=Checked(options.FPS, "NUMBER"), help="Simulated video frame rate.")
@click.option("--geometry", default="dualcam128", show_default=True, help="Array preset (dualcam128, uma16) or Acoular XML file.")
@click.option("--no-noise", is_flag=True, help="Simulated: leave out background, wind and sensor noise.")
@writes_files
def capture(out, duration, audio_device, channels, camera, blocksize, ring_seconds, debug_stall_writer, scenario, sources,
            seed, subject, rate, fps, geometry, no_noise, overwrite, quiet):
    """Record a session: from a PortAudio input (--audio-device) and optionally a camera, or,
    with no device named, from the simulated DualCam.

    The file is written as it goes and flushed every second: Ctrl-C or SIGTERM stop the
    capture and close the file cleanly; even a killed capture leaves every flushed second.
    """
    from ..array.geometry import load_geometry
    from ..io.atomic import check_output

    check_output(out, overwrite)
    geom = load_geometry(geometry)
    stall = parse_numbers(debug_stall_writer, "--debug-stall-writer", float, 2) if debug_stall_writer else None
    with _StopSignals() as stop:
        if audio_device is not None:
            _capture_live(out, audio_device, channels or geom.n_mics, rate, geom, camera, duration, blocksize,
                          ring_seconds, overwrite, quiet, stop, stall)
        else:
            _capture_simulated(out, duration, scenario, sources, seed, subject, rate, fps, geom, no_noise, overwrite, quiet,
                               stop)


def _capture_live(out, audio_device, channels, rate, geom, camera, duration, blocksize, ring_seconds, overwrite, quiet,
                  stop, stall):
    from ..io.live import capture_live

    with progress_bar("capture", "sample", quiet, unit_scale=True) as progress:
        r = capture_live(out, audio_device=audio_device, channels=channels, rate=rate, geometry=geom, camera=camera,
                         duration=duration, blocksize=blocksize, ring_seconds=ring_seconds, overwrite=overwrite,
                         should_stop=lambda: stop.reason, progress=progress, _stall_writer=stall)
    drift = f"{r['drift_ppm']:+.0f} ppm" if r["drift_ppm"] is not None else "n/a"
    click.echo(f"wrote {out}: {r['duration_s']:.2f} s, {r['samples']} samples x {channels} channels at "
               f"{rate:g} Hz, {r['frames']} video frames; audio blocks {r['blocks']}, input overflows {r['overflows']}, "
               f"dropped blocks {r['dropped_blocks']} ({r['gap_samples']} samples stored as gaps), dropped video frames "
               f"{r['dropped_frames']}, camera clock drift {drift}")
    if r["device_lost"]:
        click.echo(f"acam: error: {r['device_lost']}; {out} closed cleanly with what arrived", err=True)
        exit_after_device_loss(r)
    if r["stopped_by"]:
        click.echo(f"acam: capture {r['stopped_by']}; {out} closed cleanly", err=True)
        sys.exit(128 + int(signal.Signals[r["stopped_by"].split()[-1]]))


def _capture_simulated(out, duration, scenario, sources, seed, subject, rate, fps, geom, no_noise, overwrite, quiet, stop):
    from ..sim.simulator import SimConfig, simulate_to_file
    from ..sim.trajectories import parse_sources

    cfg = SimConfig(scenario=scenario, duration=10.0 if duration is None else duration, sample_freq=rate, video_fps=fps,
                    sources=parse_sources(sources), seed=seed, subject=subject, geometry=geom, noise=not no_noise)
    with progress_bar("capture", "sample", quiet, unit_scale=True) as progress:
        summary = simulate_to_file(cfg, out, overwrite=overwrite, progress=progress, should_stop=lambda: stop.reason)
    if summary["stopped_by"]:
        click.echo(f"acam: capture stopped by {summary['stopped_by']} after {summary['duration_s']:.2f} s; "
                   f"{out} closed cleanly", err=True)
        sys.exit(128 + int(signal.Signals[summary["stopped_by"]]))
    click.echo(
        f"wrote {out}: {summary['duration_s']:.2f} s, {summary['samples']} samples x {geom.n_mics} channels "
        f"at {rate:g} Hz, {summary['frames']} frames at {fps:g} fps, {human_bytes(Path(out).stat().st_size)}; "
        f"simulated in {summary['wall_s']:.1f} s ({summary['realtime_factor']:.1f}x real time)"
    )


def exit_after_device_loss(r: dict) -> None:
    """Exit status 1; when PortAudio hung stopping the lost device, without its exit handler
    (which would hang the same way): the file and the view are closed by now."""
    if r.get("device_hung"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    sys.exit(1)


@main.command()
def devices():
    """Audio input devices (channels, default rate) and cameras that open."""
    from ..io.live import list_audio_inputs, list_cameras

    inputs = list_audio_inputs()
    click.echo("audio inputs:" if inputs else "audio inputs: none")
    for d in inputs:
        click.echo(f"  {d['index']:3d}  {d['name']}  [{d['hostapi']}]  {d['channels']} ch, default {d['default_rate']:g} Hz")
    cams = list_cameras()
    click.echo("cameras:" if cams else "cameras: none")
    for c in cams:
        click.echo(f"  {c['index']:3d}  {c['width']}x{c['height']} at {c['fps']:g} fps")
