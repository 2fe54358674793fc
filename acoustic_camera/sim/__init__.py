"""The simulated DualCam: rooms (:mod:`.scenarios`, :mod:`.rir`), synthesized sound classes
(:mod:`.sounds`), where sources stand and walk (:mod:`.trajectories`), the drawn video
(:mod:`.scene_video`), the ground truth of each analysed frame (:mod:`.truth`), and the
simulator that streams them into a session file (:mod:`.simulator`)."""

from .._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "SimConfig": "simulator", "Simulator": "simulator", "simulate_to_file": "simulator",
    "SourceSpec": "trajectories", "parse_sources": "trajectories", "make_sound": "sounds",
})
