"""``acam calibrate``: measure a rig once, apply it to every session (``acam beamform
--calibration FILE``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AcamError
from .. import options
from . import main
from .common import Checked, parse_band, progress_bar, session_argument, writes_files


@main.group()
def calibrate():
    """Calibration of the rig (camera, microphones, audio-video sync, array-camera pose); writes an
    acam calibration file (.json)."""


def _check_out(out: Path, update: bool, overwrite: bool, inputs) -> None:
    """Refuse to replace OUT unless --overwrite, except when --update adds to it."""
    from ..io.atomic import check_output

    if not (update and out.exists()):
        check_output(out, overwrite, inputs=inputs)


def _save(out: Path, cal, update: bool, overwrite: bool):
    """Write ``cal``; with ``update``, into the existing file, keeping its other blocks."""
    from dataclasses import replace

    from ..io.calibration import load_calibration, write_calibration

    if update and out.exists():
        old = load_calibration(out)
        cal = replace(cal, microphones=cal.microphones or old.microphones, camera=cal.camera or old.camera,
                      sync=cal.sync or old.sync, pose=cal.pose or old.pose, sources=tuple(old.sources) + tuple(cal.sources))
        overwrite = True
    write_calibration(out, cal, overwrite=overwrite)


def update_option(f):
    return click.option("--update", is_flag=True, help="Add to the calibration file OUT, keeping what it already holds.")(f)


def parse_board(text: str) -> tuple[int, int]:
    try:
        nx, ny = (int(v) for v in text.lower().split("x"))
    except ValueError:
        nx = ny = 0
    if nx < 2 or ny < 2:
        raise AcamError(f"--board: expected COLSxROWS inner corners (e.g. 9x6), found {text!r}")
    return nx, ny


@calibrate.command("camera")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--board", default="9x6", show_default=True, help="Chessboard inner corners, COLSxROWS.")
@click.option("--square", default=0.025, show_default=True, type=Checked(options.SIDE_METRES, "NUMBER"), help="Chessboard square size, metres.")
@click.option("--every", default=12, show_default=True, type=Checked(options.EVERY, "INTEGER"), help="For videos: use every Nth frame.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration file (.json).")
@update_option
@writes_files
def calibrate_camera_cmd(images, board, square, every, out, update, overwrite, quiet):
    """Camera intrinsics and lens distortion from chessboard IMAGES (image files, or videos)."""
    from ..calibration.camera import calibrate_camera, load_views
    from ..io.calibration import Calibration

    _check_out(out, update, overwrite, images)
    views = load_views(images, every)
    with progress_bar("chessboards", "view", quiet) as progress:
        cam = calibrate_camera(views, parse_board(board), square, progress=progress)
    _save(out, Calibration(camera=cam, sources=tuple({"path": str(p)} for p in images)), update, overwrite)
    click.echo(f"wrote {out}: fx {cam.fx:.1f} fy {cam.fy:.1f} cx {cam.cx:.1f} cy {cam.cy:.1f} px, k1 {cam.distortion[0]:+.4f} "
               f"k2 {cam.distortion[1]:+.4f}; reprojection RMS {cam.rms_px:.3f} px over {cam.views_used} views"
               + (f" ({len(cam.views_rejected)} rejected: {', '.join(cam.views_rejected)})" if cam.views_rejected else ""))


def parse_xyz(text: str, option: str = "--source") -> tuple[float, float, float]:
    try:
        v = tuple(float(x) for x in text.split(","))
    except ValueError:
        v = ()
    if len(v) != 3:
        raise AcamError(f"{option}: expected X,Y,Z in metres (array frame), found {text!r}")
    return v


@calibrate.command("array")
@session_argument
@click.option("--source", "source", required=True,
              help="The reference source's position X,Y,Z in metres (array frame), or 'auto': from its ArUco marker "
                   "(--marker-size) through the registered pose of --calibration.")
@click.option("--marker-id", default=0, show_default=True, type=Checked(options.MARKER_ID, "INTEGER"), help="With --source auto: the source's ArUco marker.")
@click.option("--marker-size", default=None, type=Checked(options.SIDE_METRES, "NUMBER"), help="With --source auto: the marker's side, metres.")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="With --source auto: the calibration holding the camera's pose; with --update, OUT itself by default.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration file (.json).")
@click.option("--band", default="500:5000", show_default=True, help="Band the gains are measured in, LO:HI Hz.")
@update_option
@writes_files
def calibrate_array(session, source, marker_id, marker_size, calibration, out, band, update, overwrite, quiet):
    """Microphone gains per bin and faulty channels, from SESSION: a recording of a broadband
    source (a loudspeaker playing noise) at a known place, well off the array's axis."""
    from ..calibration.microphones import calibrate_microphones

    _check_out(out, update, overwrite, (session,))
    lo, hi = parse_band(band)
    if hi is None:
        raise AcamError(f"--band {band}: expected LO:HI in Hz with both ends given")
    if source.strip().lower() == "auto":
        from ..calibration.registration import locate_marker_source

        if calibration is None and update and out.exists():
            calibration = out
        if calibration is None or marker_size is None:
            raise AcamError("--source auto: expected --marker-size and a calibration with the camera's registered pose "
                            "(--calibration FILE, or --update into it), found " +
                            " and ".join(x for x, v in (("no --marker-size", marker_size), ("no calibration", calibration))
                                         if v is None))
        with progress_bar("marker", "frame", quiet) as progress:
            position, spread = locate_marker_source(session, calibration, marker_id=marker_id, marker_size=marker_size,
                                                    progress=progress)
        click.echo(f"source found at ({position[0]:+.3f}, {position[1]:+.3f}, {position[2]:+.3f}) m "
                   f"(spread {100 * spread:.1f} cm) from marker {marker_id}")
    else:
        position = parse_xyz(source)
    with progress_bar("cross-spectra", "frame", quiet) as progress:
        cal = calibrate_microphones(session, tuple(float(v) for v in position), (lo, hi), progress=progress)
    _save(out, cal, update, overwrite)
    mc = cal.microphones
    click.echo(f"wrote {out}: gains of {mc.gains.shape[0]} microphones over {lo:g}-{hi:g} Hz; "
               f"{len(mc.faults)} fault(s), {len(mc.excluded)} microphone(s) excluded")
    for f in mc.faults:
        click.echo(f"  mic {f.mic:3d}  {f.fault:9s} {'excluded' if f.exclude else 'kept    '}  {f.detail}")


@calibrate.command("sync")
@session_argument
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration file (.json).")
@click.option("--distance", default=3.0, show_default=True, type=Checked(options.METRES, "NUMBER"),
              help="Metres from the array to the events (their sound's travel time is removed).")
@update_option
@writes_files
def calibrate_sync(session, out, distance, update, overwrite, quiet):
    """How late the camera's pictures come against the sound, from SESSION: a recording of
    visible impulsive events (an LED that flashes with a click, claps in view), twenty or more."""
    from ..calibration.sync import estimate_offset

    _check_out(out, update, overwrite, (session,))
    if not distance > 0:
        raise AcamError(f"--distance: expected metres > 0, found {distance}")
    with progress_bar("frames", "frame", quiet) as progress:
        cal = estimate_offset(session, distance, progress=progress)
    _save(out, cal, update, overwrite)
    s = cal.sync
    click.echo(f"wrote {out}: the pictures come {1000 * s.av_offset_s:.1f} ms after the sound "
               f"(+-{1000 * s.uncertainty_s:.1f} ms, {s.events} events)")


@calibrate.command("register")
@session_argument
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Calibration file (.json).")
@click.option("--marker-id", default=0, show_default=True, type=Checked(options.MARKER_ID, "INTEGER"), help="The ArUco marker (DICT_4X4_50) the source carries.")
@click.option("--marker-size", default=None, type=Checked(options.SIDE_METRES, "NUMBER"),
              help="Its black square's side, metres: its distance is then measured and the camera's position fitted too.")
@click.option("--camera-position", default=None,
              help="Without --marker-size: the camera's centre X,Y,Z in metres (array frame), kept; default the session's.")
@click.option("--depth", default=3.0, show_default=True, type=Checked(options.METRES, "NUMBER"),
              help="Without --marker-size: metres to the source along the optical axis.")
@click.option("--band", default="2000:5500", show_default=True, help="Band of the energy maps the directions come from, LO:HI Hz.")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration applied while measuring (gains, intrinsics, offset); with --update, OUT itself by default.")
@update_option
@writes_files
def calibrate_register(session, out, marker_id, marker_size, camera_position, depth, band, calibration, update, overwrite,
                       quiet):
    """The camera's pose relative to the array, from SESSION: a recording of a sound source
    that carries an ArUco marker and moves across the view (a loudspeaker playing noise, walked
    about at 2-5 m)."""
    from ..calibration.registration import register

    _check_out(out, update, overwrite, (session,))
    lo, hi = parse_band(band)
    if hi is None:
        raise AcamError(f"--band {band}: expected LO:HI in Hz with both ends given")
    if marker_size is not None and not 0 < marker_size <= 2:
        raise AcamError(f"--marker-size: expected metres, 0 to 2, found {marker_size}")
    if not depth > 0:
        raise AcamError(f"--depth: expected metres > 0, found {depth}")
    position = parse_xyz(camera_position, "--camera-position") if camera_position else None
    if calibration is None and update and out.exists():
        calibration = out
    with progress_bar("registration", "frame", quiet) as progress:
        def report(stage, done, total):  # markers, then acoustic maps: one bar over both
            progress(done + (total if stage == "acoustic maps" else 0), 2 * total)

        cal = register(session, marker_id=marker_id, marker_size=marker_size, depth=depth, camera_position=position,
                       band=(lo, hi), calibration=calibration, progress=report)
    _save(out, cal, update, overwrite)
    p = cal.pose
    yaw, pitch, roll = p.yaw_pitch_roll_deg
    x, y, z = p.position
    where = (f"centre ({100 * x:+.1f}, {100 * y:+.1f}, {100 * z:+.1f}) cm"
             + (f" +-{100 * p.translation_sd_m:.1f}" if p.translation_estimated else " (kept)"))
    click.echo(f"wrote {out}: camera yaw {yaw:+.2f}, pitch {pitch:+.2f}, roll {roll:+.2f} degrees "
               f"(+-{p.rotation_sd_deg:.2f}), {where}; RMS {p.rms_deg:.3f} degrees over {p.frames_used} frames, "
               f"{p.frames_rejected} rejected")
