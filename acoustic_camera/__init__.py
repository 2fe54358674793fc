"""acam: the open acoustic camera toolkit.

The data path is one-way: source -> session file -> frames -> kernels -> volumes -> features
-> models. This top level re-exports the pieces a user needs first; heavy dependencies (torch,
cupy, sounddevice) are imported only by the modules that need them.
"""

__version__ = "0.1.0"

from .errors import AcamError, SessionFormatError  # noqa: E402
from .geometry import ArrayGeometry, load_geometry, preset  # noqa: E402
from .camera import Camera  # noqa: E402
from .session import Session, SessionWriter, open_session  # noqa: E402

__all__ = [
    "AcamError", "SessionFormatError", "ArrayGeometry", "load_geometry", "preset", "Camera",
    "Session", "SessionWriter", "open_session", "__version__",
]
