"""The ``acam`` command line. Every command has ``--help``; bad input ends with a one-line
error on stderr and exit status 2."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import click

from . import __version__
from .errors import AcamError


class _Group(click.Group):
    def main(self, *args, **kwargs):
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, standalone_mode=False, **{k: v for k, v in kwargs.items() if k != "standalone_mode"})
        except AcamError as exc:
            click.echo(f"acam: error: {exc}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("acam: aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="acam")
def main():
    """acam: the open acoustic camera toolkit."""


@contextlib.contextmanager
def _progress(desc: str, unit: str, quiet: bool, unit_scale: bool = False):
    """A progress callback (done, total) whose bar appears at the first report, so set-up
    errors print no bar; closed on the way out."""
    from tqdm import tqdm

    bars = []

    def report(done, total):
        if not bars:
            bars.append(tqdm(total=total, unit=unit, unit_scale=unit_scale, disable=quiet, desc=desc, file=sys.stderr))
        bars[0].update(done - bars[0].n)

    try:
        yield report
    finally:
        for b in bars:
            b.close()


def _parse_band(text: str) -> tuple[float, float | None]:
    lo, _, hi = text.partition(":")
    try:
        return float(lo or 0), (float(hi) if hi else None)
    except ValueError:
        raise AcamError(f"--band must be LO:HI in Hz (HI may be empty), got {text!r}") from None


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return ""


@main.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Session file to write (.h5).")
@click.option("--duration", default=None, type=float, help="Seconds to record (simulated: default 10; live: until Ctrl-C).")
@click.option("--audio-device", default=None, help="Live capture: PortAudio input device, index or name (see `acam devices`).")
@click.option("--channels", default=None, type=int, help="Live capture: channels to record (default: the geometry's microphones).")
@click.option("--camera", default=None, help="Live capture: camera index, video file or stream URL.")
@click.option("--blocksize", default=1024, show_default=True, type=int, help="Live capture: samples per audio block.")
@click.option("--ring-seconds", default=4.0, show_default=True, type=float, help="Live capture: audio ring buffer length.")
@click.option("--debug-stall-writer", default=None, hidden=True, help="AT,FOR seconds: stall the writer on purpose.")
@click.option("--scenario", default="anechoic", show_default=True, type=click.Choice(["anechoic", "indoor", "outdoor"]), help="Simulated recording place.")
@click.option("--sources", default="clapping:walk", show_default=True,
              help="Simulated sources LABEL[:static|:walk][@X,Y,Z] (metres, array frame: x right, y down, z forward).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: equal seeds give identical simulated sessions.")
@click.option("--rate", default=12000.0, show_default=True, type=float, help="Audio sample rate in Hz (12288 is the recorded DualCam rate).")
@click.option("--fps", default=12.0, show_default=True, type=float, help="Simulated video frame rate.")
@click.option("--geometry", default="dualcam128", show_default=True, help="Array preset (dualcam128, uma16) or Acoular XML file.")
@click.option("--no-noise", is_flag=True, help="Simulated: leave out background, wind and sensor noise.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def capture(out, duration, audio_device, channels, camera, blocksize, ring_seconds, debug_stall_writer, scenario, sources,
            seed, rate, fps, geometry, no_noise, overwrite, quiet):
    """Record a session: from a PortAudio input (--audio-device) and optionally a camera, or,
    with no device named, from the simulated DualCam.

    The file is written as it goes and flushed every second: Ctrl-C or SIGTERM stop the
    capture and close the file cleanly; even a killed capture leaves every flushed second.
    """
    from .geometry import load_geometry

    if out.exists() and not overwrite:
        raise AcamError(f"{out}: file exists (pass --overwrite to replace it)")
    geom = load_geometry(geometry)
    # The handlers only raise a flag that the capture loop checks: an exception thrown from a
    # signal handler can land in a callback that swallows it (seen in weakref cleanup), and then
    # Ctrl-C would be lost. Installing SIGINT also overrides an 'ignore' inherited from a shell
    # that started us in the background.
    stop: dict = {"reason": None}

    def on_signal(signum, frame):
        stop["reason"] = signal.Signals(signum).name

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if audio_device is not None:
        from .live import capture_live

        stall = None
        if debug_stall_writer:
            at, _, dur = debug_stall_writer.partition(",")
            stall = (float(at), float(dur))
        with _progress("capture", "sample", quiet, unit_scale=True) as progress:
            r = capture_live(out, audio_device=audio_device, channels=channels or geom.n_mics, rate=rate, geometry=geom,
                             camera=camera, duration=duration, blocksize=blocksize, ring_seconds=ring_seconds,
                             overwrite=overwrite, should_stop=lambda: stop["reason"], progress=progress, _stall_writer=stall)
        drift = f"{r['drift_ppm']:+.0f} ppm" if r["drift_ppm"] is not None else "n/a"
        click.echo(f"wrote {out}: {r['duration_s']:.2f} s, {r['samples']} samples x {channels or geom.n_mics} channels at "
                   f"{rate:g} Hz, {r['frames']} video frames; audio blocks {r['blocks']}, input overflows {r['overflows']}, "
                   f"dropped blocks {r['dropped_blocks']} ({r['gap_samples']} samples stored as gaps), dropped video frames "
                   f"{r['dropped_frames']}, camera clock drift {drift}")
        if r["stopped_by"]:
            click.echo(f"acam: capture {r['stopped_by']}; {out} closed cleanly", err=True)
            sys.exit(128 + int(signal.Signals[r["stopped_by"].split()[-1]]))
        return
    from .simulator import SimConfig, simulate_to_file
    from .trajectories import parse_sources

    duration = 10.0 if duration is None else duration
    cfg = SimConfig(scenario=scenario, duration=duration, sample_freq=rate, video_fps=fps,
                    sources=parse_sources(sources), seed=seed, geometry=geom, noise=not no_noise)
    with _progress("capture", "sample", quiet, unit_scale=True) as progress:
        summary = simulate_to_file(cfg, out, overwrite=overwrite, progress=progress, should_stop=lambda: stop["reason"])
    if summary["stopped_by"]:
        click.echo(f"acam: capture stopped by {summary['stopped_by']} after {summary['duration_s']:.2f} s; "
                   f"{out} closed cleanly", err=True)
        sys.exit(128 + int(signal.Signals[summary["stopped_by"]]))
    click.echo(
        f"wrote {out}: {summary['duration_s']:.2f} s, {summary['samples']} samples x {cfg.geometry.n_mics} channels "
        f"at {rate:g} Hz, {summary['frames']} frames at {fps:g} fps, {_human_bytes(out.stat().st_size)}; "
        f"simulated in {summary['wall_s']:.1f} s ({summary['realtime_factor']:.1f}x real time)"
    )


@main.command()
def devices():
    """Audio input devices (channels, default rate) and cameras that open."""
    from .live import list_audio_inputs, list_cameras

    inputs = list_audio_inputs()
    click.echo("audio inputs:" if inputs else "audio inputs: none")
    for d in inputs:
        click.echo(f"  {d['index']:3d}  {d['name']}  [{d['hostapi']}]  {d['channels']} ch, default {d['default_rate']:g} Hz")
    cams = list_cameras()
    click.echo("cameras:" if cams else "cameras: none")
    for c in cams:
        click.echo(f"  {c['index']:3d}  {c['width']}x{c['height']} at {c['fps']:g} fps")


@main.command()
@click.argument("session", type=click.Path(path_type=Path))
def info(session):
    """Print a readable summary of a session file."""
    from .session import open_session

    with open_session(session) as s:
        md = s.metadata
        good = s.geometry.good.sum()
        bad = np.flatnonzero(s.geometry.bad).tolist()
        lines = [
            f"file:        {session} ({_human_bytes(session.stat().st_size)})",
            f"schema:      acam-session v{s.schema_version}, written by acam {md.get('software_version', '?')} at {md.get('created_utc', '?')}",
            f"closed:      {'cleanly' if s.closed_cleanly else 'NOT cleanly (writer died; every flushed second is readable)'}; stop reason: {s.stop_reason}",
            f"device:      {md.get('device', '')}",
            f"scenario:    {md.get('scenario', '')}    label: {md.get('label', '')}    subject: {md.get('subject', '')}",
            f"audio:       {s.duration:.3f} s, {s.n_samples} samples x {s.n_channels} channels at {s.sample_freq:g} Hz, float32 "
            f"({_human_bytes(s.n_samples * s.n_channels * 4)} raw)",
            f"array:       {s.geometry.name}, {s.n_channels} mics, {good} good, aperture {s.geometry.aperture:.3f} m; bad mics: {bad if bad else 'none'}",
            f"audio gaps:  {len(s.audio_gaps)} ({int(s.audio_gaps[:, 1].sum()) if len(s.audio_gaps) else 0} samples lost)",
            f"video:       {s.n_frames} frames {s.camera.width}x{s.camera.height} at {s.video_fps:g} fps "
            f"(first at sample {int(s.frame_sample_index[0]) if s.n_frames else '-'})",
            f"camera:      fx={s.camera.fx:.1f} fy={s.camera.fy:.1f} cx={s.camera.cx:.1f} cy={s.camera.cy:.1f}, "
            f"at {np.round(s.camera.position, 3).tolist()} m in the array frame",
        ]
        cs = md.get("capture_stats")
        if cs:
            drift = f"{cs['drift_ppm']:+.0f} ppm" if cs.get("drift_ppm") is not None else "n/a"
            lines.append(f"capture:     {cs['blocks']} audio blocks, {cs['overflows']} input overflows, {cs['dropped_blocks']} dropped "
                         f"blocks, {cs['dropped_frames']} dropped video frames, camera clock drift {drift}")
        if len(s.audio_gaps):
            lines.append("gaps at:     " + ", ".join(f"{g0 / s.sample_freq:.3f} s (+{n} samples)" for g0, n in s.audio_gaps[:10])
                         + (" ..." if len(s.audio_gaps) > 10 else ""))
        if s.truth is not None:
            t = s.truth
            lines.append(f"truth:       {len(t.labels)} source(s): " + ", ".join(
                f"{lab} (visible {100 * t.visible[:, j].mean():.0f}% / active {100 * t.active[:, j].mean():.0f}% of frames)"
                for j, lab in enumerate(t.labels)))
        else:
            lines.append("truth:       none (not a simulated session)")
    click.echo("\n".join(lines))


@main.command()
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (default: SESSION.acoustic.h5 next to the session).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "numpy", "numba", "cupy"]),
              help="auto: cupy when a GPU is usable, else numba.")
@click.option("--focus-distance", default="3.0", show_default=True,
              help="Metres to the focus plane, or 'inf' for the far field.")
@click.option("--grid", "grid_text", default="36x48", show_default=True, help="Acoustic image ROWSxCOLS.")
@click.option("--features", default="mfcc,energy", show_default=True,
              help="What to store: any of volumes (full 512-bin power, 42.5 MB/s), mfcc, energy.")
@click.option("--dtype", default="float32", show_default=True, type=click.Choice(["float32", "float16"]), help="Of stored volumes.")
@click.option("--steering", default="classic", show_default=True,
              type=click.Choice(["classic", "inverse", "true level", "true location"]))
@click.option("--window", default="tukey0.75", show_default=True, help="Frame window.")
@click.option("--nfft", default=1024, show_default=True, type=int, help="Samples per acoustic frame.")
@click.option("--band", default="900:", show_default=True, help="Band for the energy map, LO:HI in Hz (HI empty: top bin).")
@click.option("--batch", default=24, show_default=True, type=int, help="Frames per kernel call.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def beamform(session, out, backend, focus_distance, grid_text, features, dtype, steering, window, nfft, band, batch, overwrite, quiet):
    """Acoustic images for every video frame of SESSION, into a separate file."""
    from .acoustic_file import beamform_session, parse_features
    from .grid import parse_grid

    try:
        fd = None if focus_distance.lower() in ("inf", "infinity", "far") else float(focus_distance)
    except ValueError:
        raise AcamError(f"--focus-distance must be metres or 'inf', got {focus_distance!r}") from None
    with _progress("beamform", "frame", quiet) as progress:
        r = beamform_session(session, out, features=parse_features(features), dtype=dtype, batch=batch,
                             band=_parse_band(band), overwrite=overwrite, progress=progress, grid=parse_grid(grid_text),
                             focus_distance=fd, nfft=nfft, window=window, steering=steering, backend=backend)
    click.echo(f"wrote {r['path']}: {r['frames']} frames ({r['partial_frames']} with windows past the recording's ends, "
               f"zero-padded) in {r['seconds']:.1f} s, {r['volumes_per_s']:.1f} volumes/s "
               f"({r['realtime_factor']:.1f}x real time), backend {r['backend']}")


@main.command()
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--acoustic", default=None, type=click.Path(path_type=Path),
              help="Output of `acam beamform` (default: SESSION.acoustic.h5 if present, else beamform on the fly).")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Overlay video (.mp4).")
@click.option("--frame", default=None, type=int, help="Frame index for --png.")
@click.option("--png", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Write one frame as PNG.")
@click.option("--band", default="900:", show_default=True, help="Band LO:HI in Hz (HI empty: top bin).")
@click.option("--range", "dyn_range", default=12.0, show_default=True, type=float, help="Dynamic range in dB below the maximum.")
@click.option("--reference", default="frame", show_default=True, type=click.Choice(["frame", "session"]),
              help="Top of the scale: each frame's maximum or the session's.")
@click.option("--side-by-side", is_flag=True, help="Video, acoustic image and overlay next to each other.")
@click.option("--truth", is_flag=True, help="Mark the true source pixels (simulated sessions).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "numpy", "numba", "cupy"]))
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True)
def render(session, acoustic, out, frame, png, band, dyn_range, reference, side_by_side, truth, backend, overwrite, quiet):
    """Draw the acoustic image of every frame over the video (MP4), or one frame (PNG)."""
    from .render import RenderOptions, render as do_render

    opts = RenderOptions(dynamic_range_db=dyn_range, reference=reference, band=_parse_band(band),
                         side_by_side=side_by_side, truth=truth)
    with _progress("render", "frame", quiet) as progress:
        r = do_render(session, out=out, png=png, frame=frame, acoustic=acoustic, opts=opts, backend=backend,
                      overwrite=overwrite, progress=progress)
    if "mp4" in r:
        click.echo(f"wrote {r['mp4']}: {r['frames']} frames {r['size'][0]}x{r['size'][1]} at {r['fps']:g} fps (energy from {r['energy_from']})")
    if "png" in r:
        click.echo(f"wrote {r['png']}")


@main.group()
def plot():
    """Pictures: the array and its beampattern, a pixel's spectrum over time."""


@plot.command("array")
@click.option("--geometry", default="dualcam128", show_default=True, help="Preset or Acoular XML file.")
@click.option("--freqs", default="1000,2000,4000,6000", show_default=True, help="Beampattern frequencies, Hz.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".png or .svg")
def plot_array_cmd(geometry, freqs, out):
    """The microphone layout (bad mics marked) and its beampatterns with the PSL written on."""
    from .geometry import load_geometry
    from .plots import plot_array

    try:
        fl = [float(f) for f in freqs.split(",")]
    except ValueError:
        raise AcamError(f"--freqs must be comma-separated Hz, got {freqs!r}") from None
    plot_array(load_geometry(geometry), fl, out)
    click.echo(f"wrote {out}")


@plot.command("spectrum")
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--pixel", default=None, help="Acoustic pixel ROW,COL.")
@click.option("--truth", is_flag=True, help="Follow the first source's true pixel (simulated sessions).")
@click.option("--acoustic", default=None, type=click.Path(path_type=Path), help="acam beamform output with volumes.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--backend", default="auto", type=click.Choice(["auto", "numpy", "numba", "cupy"]))
def plot_spectrum_cmd(session, pixel, truth, acoustic, out, backend):
    """Spectrogram of one acoustic pixel over time, beside the single-microphone spectrogram."""
    from .plots import plot_spectrum

    if (pixel is None) == (not truth):
        raise AcamError("give exactly one of --pixel ROW,COL and --truth")
    rc = None
    if pixel is not None:
        try:
            rc = tuple(int(v) for v in pixel.split(","))
            assert len(rc) == 2
        except (ValueError, AssertionError):
            raise AcamError(f"--pixel must be ROW,COL, got {pixel!r}") from None
    plot_spectrum(session, out, pixel=rc, truth=truth, acoustic=acoustic, backend=backend)
    click.echo(f"wrote {out}")


@main.group("import")
def import_():
    """Turn recordings made with the DualCam itself into acam files."""


def _parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise AcamError(f"{what} must be comma-separated integers, got {text!r}") from None


@import_.command("dualcam")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Session file to write.")
@click.option("--broken", default="79,105", show_default=True, help="Microphones to mark bad (0-based), comma-separated.")
@click.option("--label", default="", help="Class label to store.")
@click.option("--subject", default="", help="Subject to store.")
@click.option("--scenario", default="", help="Scenario (location) to store.")
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True)
def import_dualcam_cmd(src, out, broken, label, subject, scenario, overwrite, quiet):
    """DualCam dumps (A_%06d.dc audio + I_%06d.bmp/.jpeg frames, 1024 samples per frame at
    12 fps = 12288 Hz) in SRC (or SRC/audio and SRC/video) -> a session file."""
    from .dualcam_import import import_dualcam

    with _progress("import", "frame", quiet) as progress:
        r = import_dualcam(src, out, broken_mics=_parse_ints(broken, "--broken"), overwrite=overwrite, progress=progress,
                           metadata={"label": label, "subject": subject, "scenario": scenario})
    click.echo(f"wrote {r['path']}: {r['frames']} frames, {r['samples']} samples x {r['channels']} channels at "
               f"{r['sample_freq']:g} Hz; bad mics {list(r['bad_mics'])}")


@import_.command("dualcam-mfcc")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--session", "session", required=True, type=click.Path(path_type=Path), help="The imported session.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="acam-acoustic file to write.")
@click.option("--overwrite", is_flag=True)
def import_dualcam_mfcc_cmd(src, session, out, overwrite):
    """Precomputed DualCam MFCC acoustic images (MFCC_Image/Data_%d.mat, key MFCC, 36x48x12)
    -> the layout `acam beamform` writes for MFCC features."""
    from .dualcam_import import import_dualcam_mfcc

    r = import_dualcam_mfcc(src, session, out, overwrite=overwrite)
    click.echo(f"wrote {r['path']}: {r['frames']} MFCC images ({r['padded_frames']} zero-padded to 12 coefficients)")


def _pairs(sessions):
    """Session files (or directories of them) -> (session, acoustic file) pairs."""
    out = []
    for spec in sessions:
        p = Path(spec)
        files = sorted(q for q in p.glob("*.h5") if not q.name.endswith(".acoustic.h5")) if p.is_dir() else [p]
        for f in files:
            a = f.with_name(f.stem + ".acoustic.h5")
            if not a.exists():
                raise AcamError(f"{a}: missing: run `acam beamform {f}` first (the models train on its MFCC images)")
            out.append((f, a))
    if not out:
        raise AcamError("no sessions found")
    return out


def _models_extra(what: str):
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise AcamError(f"{what} needs the models extra (pip install 'acoustic-camera[models]'): {exc}") from None


@main.command()
@click.argument("role", type=click.Choice(["teacher", "student", "distill", "localize"]))
@click.argument("sessions", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run directory.")
@click.option("--model", default=None, type=click.Choice(["dualcamnet", "resnet50", "avnet", "hearnet", "soundnet5"]),
              help="Default: dualcamnet for teacher, hearnet otherwise.")
@click.option("--teacher", default=None, type=click.Path(path_type=Path), help="Teacher checkpoint (distill).")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--distill", "distill_kind", default="soft", show_default=True,
              type=click.Choice(["soft", "hinton", "hint", "sequential"]),
              help="soft labels (published) or Hinton's; feature hints; per-second + aggregated hints.")
@click.option("--lam", default=0.5, show_default=True, type=float, help="Soft-label weight (soft, hinton).")
@click.option("--temperature", default=1.0, show_default=True, type=float, help="Soft-label temperature (soft, hinton).")
@click.option("--hint-weight", default=1.0, show_default=True, type=float, help="Hint term weight (hint, sequential).")
@click.option("--alpha", default=0.5, show_default=True, type=float, help="Per-second vs aggregated hint (sequential).")
@click.option("--train-scenario", default=None, help="Cross-scenario: train on this scenario...")
@click.option("--test-scenario", default=None, help="...and test on this one.")
@click.option("--image-size", default=224, show_default=True, type=int, help="ResNet-50 crop side (resnet50, avnet).")
@click.option("--video-per-second", default=1, show_default=True, type=int,
              help="Video frames per second of clip for the visual models (1: the middle frame; AVNet: 1 or 12).")
@click.option("--visual-weights", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Local ImageNet ResNet-50 state_dict (nothing is downloaded); without it the frozen backbone is random.")
@click.option("--audio-teacher", default=None, type=click.Path(path_type=Path), help="localize: DualCamNet checkpoint for the audio hint.")
@click.option("--visual-teacher", default=None, type=click.Path(path_type=Path), help="localize: ResNet-50/AVNet checkpoint for the visual hint.")
@click.option("--map-hint", default=0.0, show_default=True, type=float,
              help="localize: weight of the acoustic-image map hint (needs `acam beamform --features energy`).")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--device", default="auto", show_default=True)
def train(role, sessions, out, model, teacher, epochs, batch_size, lr, seed, distill_kind, lam, temperature, hint_weight,
          alpha, train_scenario, test_scenario, image_size, video_per_second, visual_weights, audio_teacher, visual_teacher,
          map_hint, resume, device):
    """Train a teacher or a student, distil a teacher into a student, or train an audio-visual
    localiser (`models` extra: torch, torchvision)."""
    _models_extra("training")
    pairs = _pairs(sessions)
    if role == "localize":
        from .models.localization import LocalizeConfig, train_localizer

        cfg = LocalizeConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                             audio_teacher=str(audio_teacher) if audio_teacher else None,
                             visual_teacher=str(visual_teacher) if visual_teacher else None, map_hint=map_hint)
        m = _guard(lambda: train_localizer(cfg, pairs, out))
        v = m["validation"]
        click.echo(f"localizer: held-out clips {v['clips']}: peak within {v['radius_px']:g} px "
                   f"{v['model']['within_radius']:.3f} (centre {v['centre']['within_radius']:.3f}, acoustic camera "
                   f"{v['acoustic_camera']['within_radius']:.3f}); {out / 'localizer.pt'}")
        return
    from .models.train import TrainConfig, train as do_train

    model = model or ("dualcamnet" if role == "teacher" else "hearnet")
    cfg = TrainConfig(role=role, model=model, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, distill=distill_kind,
                      lam=lam, temperature=temperature, hint_weight=hint_weight, alpha=alpha,
                      teacher=str(teacher) if teacher else None, train_scenario=train_scenario,
                      test_scenario=test_scenario, image_size=image_size, video_per_second=video_per_second,
                      visual_weights=str(visual_weights) if visual_weights else None, device=device)
    m = _guard(lambda: do_train(cfg, pairs, out, resume=resume))
    click.echo(f"{role} {model}: best validation accuracy {m['best_val_accuracy']:.3f}, test {m['test_accuracy']:.3f}, "
               f"train {m['train_accuracy']:.3f} (chance {m['chance']:.3f}); {out / 'metrics.json'}")


def _guard(fn):
    """Configuration and data errors from the models as one clear line."""
    try:
        return fn()
    except (ValueError, FileNotFoundError) as exc:
        raise AcamError(str(exc)) from None


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sessions", "sessions", multiple=True, required=True, help="Sessions or directories to test on.")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False, path_type=Path), help="Also write the rows as JSON.")
@click.option("--picture", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Localisers: a PNG of similarity maps over their frames (truth green, peak white).")
@click.option("--radius", default=64.0, show_default=True, type=float, help="Localisers: hit radius in pixels.")
@click.option("--device", default="auto", show_default=True)
def evaluate(checkpoints, sessions, json_out, picture, radius, device):
    """Cross-scenario accuracy table (train set x test set, one column per model, as in the paper);
    localisers: peak-pixel error against the simulated truth."""
    _models_extra("evaluation")
    import json as _json

    from .models.evaluation import accuracy_table, evaluate as do_eval
    from .models.localization import evaluate_localizer, is_localizer

    pairs = _pairs(sessions)
    for c in checkpoints:
        if not c.is_file():
            raise AcamError(f"{c}: no such checkpoint")
    loc = [c for c in checkpoints if is_localizer(c)]
    cls = [c for c in checkpoints if c not in loc]
    report = {}
    if cls:
        rows = _guard(lambda: do_eval(cls, pairs, device))
        report["accuracy"] = rows
        click.echo(accuracy_table(rows))
        click.echo("(accuracy, with the number of clips; clips a model trained or validated on are left out)")
    for c in loc:
        r = _guard(lambda: evaluate_localizer(c, pairs, device, radius=radius, picture=picture))
        report.setdefault("localization", {})[str(c)] = r
        click.echo(f"{c}: {r['clips']} clips with a visible, sounding source")
        click.echo(f"| method | within {radius:g} px | median error (px) | mean error (px) |\n|---|---:|---:|---:|")
        for k in ("model", "acoustic_camera", "centre"):
            click.echo(f"| {k.replace('_', ' ')} | {r[k]['within_radius']:.3f} | {r[k]['median_px']:.1f} | {r[k]['mean_px']:.1f} |")
        if r.get("picture"):
            click.echo(f"wrote {r['picture']}")
    if json_out:
        json_out.write_text(_json.dumps(report, indent=2, default=float))


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--sessions", "sessions", multiple=True, required=True, help="Sessions or directories to embed.")
@click.option("--layer", default="embedding", show_default=True, type=click.Choice(["embedding", "logits"]))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Embeddings (.npz).")
@click.option("--transfer-to", "transfer_to", multiple=True, help="Also fit k-NN/SVM on --sessions and score on these.")
@click.option("--device", default="auto", show_default=True)
def features(checkpoint, sessions, layer, out, transfer_to, device):
    """Export embeddings from a chosen layer; optionally k-NN and linear-SVM transfer accuracy."""
    try:
        from .models.features import export_embeddings, transfer_scores
    except ImportError as exc:
        raise AcamError(f"features need the models extra (pip install 'acoustic-camera[models]'): {exc}") from None
    emb = export_embeddings(checkpoint, _pairs(sessions), layer, device)
    np.savez_compressed(out, **emb)
    click.echo(f"wrote {out}: {emb['x'].shape[0]} clips x {emb['x'].shape[1]} dimensions ({layer})")
    if transfer_to:
        r = transfer_scores(emb, export_embeddings(checkpoint, _pairs(transfer_to), layer, device))
        click.echo(f"transfer: k-NN {r['knn']:.3f}, linear SVM {r['svm']:.3f} ({r['n_train']} -> {r['n_test']} clips)")


@main.group()
def array():
    """Array layouts: design the optimized DualCam layout, compare PSL."""


@array.command("design")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the XML layout and JSON design record.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--iterations", default=None, type=int, help="Optimizer iterations (default: the shipped design's).")
@click.option("--n-mics", default=128, show_default=True, type=int)
def array_design(out_dir, seed, iterations, n_mics):
    """Run the seeded PSL optimizer that produced the dualcam128 layout."""
    from . import array_design as ad

    argv = ["--out", str(out_dir), "--seed", str(seed), "--n-mics", str(n_mics)]
    if iterations is not None:
        argv += ["--iterations", str(iterations)]
    ad.main(argv)


import numpy as np  # noqa: E402  (after the CLI definitions: keeps `acam --help` quick to read)

if __name__ == "__main__":
    main()
