"""What every ``acam`` command shares: the session arguments, the ``--overwrite``/``--quiet``
options, progress bars, and parsers for the small value syntaxes (bands, pixels, lists)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from .. import options
from ..errors import AcamError

SESSION_HELP = "Session file (.h5) made by `acam capture` or `acam import dualcam`."


class Checked(click.ParamType):
    """A click type from a parser of :mod:`acoustic_camera.options`: the value is checked where
    it is read, and refused in one line naming the option (``acam: error: --nfft: expected ...``)."""

    def __init__(self, parser, metavar: str = "NUMBER"):
        self.parser, self.name = parser, metavar.lower()
        self._metavar = metavar

    def get_metavar(self, param, ctx=None):
        return self._metavar

    def convert(self, value, param, ctx):
        if value is None:
            return None
        name = max(param.opts, key=len) if param is not None and param.opts else "value"
        return self.parser(value, name)


def session_argument(f):
    """SESSION: one session file, given the same way by every command that reads one."""
    return click.argument("session", type=click.Path(dir_okay=False, path_type=Path))(f)


def sessions_argument(f):
    """SESSIONS...: session files or folders of them (their acoustic files beside them)."""
    return click.argument("sessions", nargs=-1, required=True, type=click.Path(path_type=Path))(f)


def overwrite_option(f):
    return click.option("--overwrite", is_flag=True, help="Replace output files that exist.")(f)


def quiet_option(f):
    return click.option("--quiet", is_flag=True, help="No progress bars (messages and errors still print).")(f)


def writes_files(f):
    """--overwrite and --quiet: every command that writes a file takes both."""
    return overwrite_option(quiet_option(f))


@contextlib.contextmanager
def progress_bar(desc: str, unit: str, quiet: bool, unit_scale: bool = False):
    """A progress callback ``(done, total)`` whose bar appears at the first report, so set-up
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


def parse_band(text: str, option: str = "--band") -> tuple[float, float | None]:
    """'LO:HI' Hz -> (lo, hi); HI may be empty (up to the top bin). See :func:`.options.band`."""
    return options.band(text, option)


def parse_numbers(text: str, option: str, kind=float, count: int | None = None) -> tuple:
    """'1,2,3' -> (1, 2, 3) of ``kind``, each finite; ``count`` fixes how many, and at most 10000
    in any case."""
    what = f"{count} " if count else ""
    expected = f"{what}comma-separated {'integers' if kind is int else 'numbers'}"
    items = [v for v in text.split(",") if v.strip()]
    if not items or len(items) > 10000 or (count is not None and len(items) != count):
        raise AcamError(f"{option}: expected {expected}, found {text[:60]!r}")
    parse = options.Count(-2**31, 2**31 - 1) if kind is int else options.Real()
    try:
        return tuple(kind(parse(v, option)) for v in items)
    except AcamError as exc:
        raise AcamError(f"{option}: expected {expected}, found {text[:60]!r} ({str(exc).split(': ', 1)[-1]})") from None


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return ""


def models_extra(what: str) -> None:
    """The models commands need torch (the ``models`` extra): say so in one line."""
    import importlib.util

    missing = [m for m in ("torch", "torchvision") if importlib.util.find_spec(m) is None]
    if missing:
        raise AcamError(f"{what} needs the models extra (pip install 'acoustic-camera[models]'): "
                        f"{', '.join(missing)} not installed")


def method_options(f):
    """--method and its parameters: the short-time cross-spectral methods (acam beamform, render)."""
    from ..beamform.methods import METHODS, WEIGHTINGS, MethodSpec

    d = MethodSpec()
    for opt in reversed([
        click.option("--method", default=None, type=click.Choice(METHODS),
                     help="Short-time cross-spectral method for the band's maps (default: delay-and-sum per frame, "
                          "the kernel)."),
        click.option("--csm-frames", default=d.csm_frames, show_default=True, type=Checked(options.CSM_FRAMES, "INTEGER"),
                     help="Frames per cross-spectral matrix, centred on each video frame (12: 1 s)."),
        click.option("--nu", default=d.nu, show_default=True, type=Checked(options.FUNCTIONAL_ORDER, "NUMBER"), help="Functional beamforming's order."),
        click.option("--loading", default=d.loading, show_default=True, type=Checked(options.LOADING, "NUMBER"),
                     help="Capon's diagonal loading, times the mean microphone power."),
        click.option("--clean-gain", default=d.damp, show_default=True, type=Checked(options.CLEAN_GAIN, "NUMBER"), help="CLEAN-SC's loop gain."),
        click.option("--clean-steps", default=d.n_iter, show_default=True, type=Checked(options.CLEAN_STEPS, "INTEGER"), help="CLEAN-SC's most sources per bin."),
        click.option("--bin-weighting", default=d.weighting, show_default=True, type=click.Choice(WEIGHTINGS),
                     help="How the band's bins add up: power (levels true) or equal (each bin's map scaled to peak 1: "
                          "finds sources in reverberant rooms; levels relative)."),
    ]):
        f = opt(f)
    return f


def method_spec(method, csm_frames, nu, loading, clean_gain, clean_steps, bin_weighting):
    """The MethodSpec the options describe, or None without --method."""
    if method is None:
        return None
    from ..beamform.methods import MethodSpec

    return MethodSpec(method, csm_frames=csm_frames, nu=nu, loading=loading, damp=clean_gain, n_iter=clean_steps,
                      weighting=bin_weighting)
