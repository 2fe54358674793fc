"""acam: the open acoustic camera toolkit.

The data path is one-way, and the sub-packages follow it:

- :mod:`.array`: the device (microphone geometry, camera, look grid, layout design);
- :mod:`.sim` and :mod:`.io` (``live``, ``dualcam``): sources of sessions;
- :mod:`.io` (``session``, ``acoustic``): the two file formats, each with its one owner;
- :mod:`.beamform` over :mod:`.kernels`: frames -> spectra -> acoustic-image volumes -> features;
- :mod:`.view` and :mod:`.models`: pictures and learning on the volumes;
- :mod:`.cli`: the ``acam`` command.

Modules import only from earlier steps of that path (and the leaves :mod:`.errors`,
:mod:`.constants`, :mod:`.catalog`, :mod:`.framing`); heavy dependencies (torch, cupy,
sounddevice) are imported only by the modules that need them. This top level re-exports what a
user needs first.
"""

__version__ = "0.1.0"

from .errors import AcamError, AcousticFormatError, SessionFormatError  # noqa: E402
from .array.camera import Camera  # noqa: E402
from .array.geometry import ArrayGeometry, load_geometry, preset  # noqa: E402
from .io.acoustic import AcousticFile, open_acoustic  # noqa: E402
from .io.session import Session, SessionWriter, open_session  # noqa: E402

__all__ = [
    "AcamError", "SessionFormatError", "AcousticFormatError", "ArrayGeometry", "load_geometry", "preset", "Camera",
    "Session", "SessionWriter", "open_session", "AcousticFile", "open_acoustic", "__version__",
]
