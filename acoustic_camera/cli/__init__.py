"""The ``acam`` command line, one module per family of commands: :mod:`.capture` (capture,
devices), :mod:`.info`, :mod:`.beamform`, :mod:`.view` (render, plot), :mod:`.imports`
(import dualcam, dualcam-mfcc), :mod:`.models` (train, evaluate, features) and :mod:`.array`
(array design), :mod:`.calibrate` (calibrate ...), :mod:`.dataset` (dataset make), :mod:`.live` (live); :mod:`.common` holds
what they share.

Every command has ``--help``. A user error (an :class:`~acoustic_camera.errors.AcamError`, or a
malformed command line) ends with one line on stderr, ``acam: error: ...``, and exit status 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import AcamError, os_error_line


class _Group(click.Group):
    def main(self, *args, **kwargs):
        kwargs.pop("standalone_mode", None)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except AcamError as exc:
            click.echo(f"acam: error: {exc}", err=True)
            sys.exit(2)
        except MemoryError:
            # the option limits and check_memory refuse what cannot fit before allocating; this is
            # the last line of defence for what only shows while running (other programs' use)
            click.echo("acam: error: out of memory: the job needs more than this machine has free "
                       "(try a smaller --grid, --nfft, --batch or --csm-frames)", err=True)
            sys.exit(2)
        except OSError as exc:
            line = os_error_line(exc)
            if line is None:
                raise
            click.echo(f"acam: error: {line}", err=True)
            sys.exit(2)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "acam"
            msg = " ".join(exc.format_message().split())
            click.echo(f"acam: error: {where}: {msg} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("acam: aborted", err=True)
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="acam")
def main():
    """acam: the open acoustic camera toolkit."""


from . import array, beamform, calibrate, capture, dataset, export, imports, info, live, models, view  # noqa: E402,F401  (registers the commands)
