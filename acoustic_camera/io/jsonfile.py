"""Reading JSON files that may be hostile: one line naming the file for everything that can go
wrong (unreadable, too large, not UTF-8, unparsable, nested too deep, NaN or Infinity, a number
too long to be one), never a traceback. The JSON formats' owners (:mod:`.dataset`,
:mod:`.calibration`) and ``acam info`` read through :func:`read_json`."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import AcamError

MAX_JSON_BYTES = 64 << 20
"""Largest JSON file read (acam's own are kilobytes; a split of 100,000 blocks is ~10 MB)."""
MAX_NUMBER_CHARS = 40


def _constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _number(text: str):
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a {len(text)}-digit number")
    return int(text)


def parse_json(raw: bytes | str, path, what: str):
    """The JSON value of ``raw`` (the contents of ``path``), or one line saying why not."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_constant, parse_int=_number)
    except UnicodeDecodeError:
        raise AcamError(f"{path}: expected {what} (UTF-8 JSON), found bytes that are not UTF-8 text") from None
    except RecursionError:
        raise AcamError(f"{path}: expected {what}, found JSON nested too deep to read") from None
    except ValueError as exc:
        raise AcamError(f"{path}: expected {what}, found unparsable JSON ({str(exc).splitlines()[0][:80]})") from None


def read_json(path, what: str, max_bytes: int = MAX_JSON_BYTES):
    """Read and parse a JSON file, refusing in one line what cannot be one of ``what``."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise AcamError(f"{p}: expected {what} (at most {max_bytes >> 20} MB), found {size >> 20} MB")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise AcamError(f"{p}: no such file (expected {what})") from None
    except IsADirectoryError:
        raise AcamError(f"{p}: is a directory, expected {what}") from None
    except OSError as exc:
        raise AcamError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    return parse_json(raw, p, what), raw
