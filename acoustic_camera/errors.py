"""The exceptions users see for bad input: each message is a complete, one-line answer that
names the input (file, option or field), what was expected and what was found.

The CLI turns exactly these into ``acam: error: MESSAGE`` and exit status 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class AcamError(Exception):
    """Bad input or an unusable file; the message names the input and what was expected."""


class FileFormatError(AcamError):
    """A file that does not follow its schema: names the file, the field, what was expected and
    what was found."""

    def __init__(self, path, field: str, expected: str, found: str | None = None):
        self.path, self.field, self.expected, self.found = str(path), field, expected, found
        msg = f"{path}: {field}: expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)


class SessionFormatError(FileFormatError):
    """A session file (``acam-session``) that does not follow the schema."""


class AcousticFormatError(FileFormatError):
    """An acoustic-image file (``acam-acoustic``) that does not follow the schema."""


class BackendUnavailableError(AcamError):
    """A kernel backend that cannot run here (e.g. ``cupy`` without a CUDA GPU)."""
