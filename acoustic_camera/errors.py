"""The exceptions users see for bad input: each message is a complete, one-line answer that
names the input (file, option or field), what was expected and what was found.

The CLI turns exactly these into ``acam: error: MESSAGE`` and exit status 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import re


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


DISK_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
               errno.EROFS: "read-only file system", errno.EIO: "input/output error",
               errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
               errno.EFBIG: "file too large for the file system"}
"""Operating-system errors a writer or reader meets through no fault of acam: reported in one line."""


def os_errno(exc: BaseException) -> int | None:
    """The errno of an OS error, also when a library (h5py, HDF5) put it only in the message
    ('errno = 28')."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    m = re.search(r"errno = (\d+)", str(exc))
    return int(m.group(1)) if m else None


def os_error_line(exc: BaseException, path=None) -> str | None:
    """One line for an OS error that is the machine's (disk full, read-only, permissions),
    naming the file; None for any other error."""
    code = os_errno(exc)
    if code not in DISK_ERRNOS:
        return None
    where = path or getattr(exc, "filename", None)
    if where is None:
        m = re.search(r"(?:file name|filename) = '([^']+)'", str(exc))
        where = m.group(1) if m else None
    return f"{where or 'output'}: {DISK_ERRNOS[code]} (errno {code})"


class DiskError(AcamError):
    """Writing or reading a file failed for a reason of the machine's (disk full, read-only,
    permissions): the message names the file."""

    def __init__(self, path, exc: BaseException, what: str = ""):
        line = os_error_line(exc, path) or f"{path}: {exc}"
        super().__init__(line + (f"; {what}" if what else ""))
