"""The one exception type users see for bad input: its message is a complete, one-line answer."""


class AcamError(Exception):
    """Bad input or an unusable file; the message names the file, the field and what was expected."""


class SessionFormatError(AcamError):
    """A session file that does not follow the schema."""

    def __init__(self, path, field: str, expected: str, found: str | None = None):
        self.path, self.field, self.expected, self.found = str(path), field, expected, found
        msg = f"{path}: {field}: expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)
