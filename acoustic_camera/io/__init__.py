"""Files in and out: the session file (:mod:`.session`) and the acoustic-image file
(:mod:`.acoustic`), each read and written by its one owner; crash-safe output
(:mod:`.atomic`); and the sources that make sessions from outside acam: live capture from a
PortAudio array and a camera (:mod:`.live`) and DualCam recordings (:mod:`.dualcam`)."""

from .._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "open_session": "session", "Session": "session", "SessionWriter": "session",
    "open_acoustic": "acoustic", "AcousticFile": "acoustic", "AcousticWriter": "acoustic",
    "acoustic_path_for": "acoustic", "atomic_output": "atomic",
})
