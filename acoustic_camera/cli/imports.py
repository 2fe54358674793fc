"""``acam import audio`` (any array's recording, with its video or photo), ``acam import dualcam``
and ``acam import dualcam-mfcc`` (recordings of the DualCam itself)."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog import SCENARIOS
from ..constants import DUALCAM_BROKEN_MICS
from . import main
from .. import options
from .common import Checked, parse_numbers, progress_bar, session_argument, writes_files


@main.group("import")
def import_():
    """Turn recordings made outside acam into acam files."""


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


@import_.command("audio")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--geometry", required=True, help="The array: a preset (dualcam128, uma16) or an Acoular XML file.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Session file to write.")
@click.option("--channels", default=None, help="File channels onto the geometry's microphones, in order: 0-15, 3,1,2,... "
                                               "(default: all, when the counts match).")
@click.option("--bad", default="", help="Microphones to mark dead (0-based), comma-separated.")
@click.option("--video", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="The camera's video (any container OpenCV reads).")
@click.option("--video-offset", default=0.0, show_default=True, type=Checked(options.VIDEO_OFFSET),
              help="Seconds of audio before the video's first frame (negative: the video started first).")
@click.option("--picture", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="One photo shown behind every frame (instead of a video).")
@click.option("--hfov", default=None, type=Checked(options.HFOV_DEG),
              help="The camera's horizontal field of view, degrees [default: 60]; the size is the picture's.")
@click.option("--calibration", "camera_from", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Take the camera (intrinsics) from this calibration file (acam calibrate camera).")
@click.option("--fps", default=12.0, show_default=True, type=Checked(options.FPS),
              help="Frames per second with --picture or without a picture.")
@click.option("--flip-y", is_flag=True, help="Mirror the geometry top to bottom (a vendor file written with y up; "
                                            "acam's array frame has y down, as the camera's).")
@click.option("--sensitivity", default=None,
              help="Microphone sensitivity, one value or one per microphone: -26dBFS (full scale at 94 dB SPL, the "
                   "MEMS datasheet form), 12mV/Pa (samples in volts); the audio is then stored in pascals.")
@click.option("--label", default="", help="Class label to store.")
@writes_files
def import_audio_cmd(files, geometry, out, channels, bad, video, video_offset, picture, hfov, camera_from, fps,
                     flip_y, sensitivity, label, overwrite, quiet):
    """FILES (one recording; several are joined in order): multichannel WAV (also RF64, W64,
    WAVE_FORMAT_EXTENSIBLE; 16/24/32-bit integer or float), FLAC, CAF, or Acoular HDF5 time
    data -> a session file, with the video or photo of the scene. The rate is kept as recorded."""
    from ..array.geometry import load_geometry
    from ..io.import_audio import import_audio

    camera = None
    if camera_from is not None:
        from ..io.calibration import load_calibration

        cal = load_calibration(camera_from)
        if cal.camera is None:
            from ..errors import AcamError

            raise AcamError(f"{camera_from}: camera: expected a calibrated camera (acam calibrate camera), found none")
        camera = cal.camera.camera()
    mics = parse_numbers(bad, "--bad", int) if bad.strip() else ()
    with progress_bar("import", "sample", quiet, unit_scale=True) as progress:
        geo = load_geometry(geometry)
        r = import_audio(list(files), out, geometry=geo.mirrored_y() if flip_y else geo, channels=channels, bad=mics, video=video,
                         video_offset=video_offset, picture=picture, camera=camera, hfov=hfov, fps=fps,
                         overwrite=overwrite, progress=progress, metadata={"label": label}, sensitivity=sensitivity)
    click.echo(f"wrote {r['path']}: {r['samples'] / r['sample_freq']:.2f} s, {r['samples']} samples x {r['channels']} "
               f"microphones at {r['sample_freq']:g} Hz from {r['files']} file(s), {r['frames']} frames ({r['picture']}); "
               f"{r['mb_per_s']:.0f} MB/s")
