"""The names acam knows: sound classes and recording scenarios.

One owner per list: the simulator, the CLI's choices and the models all read them here.
"""

SOUND_CLASSES: tuple[str, ...] = ("clapping", "snapping", "speech", "whistling", "kendama", "clicking", "typing",
                                  "knocking", "hammering", "peanut_breaking", "paper_ripping", "plastic_crumpling",
                                  "paper_shaking", "stick_dropping")
"""Sound classes the simulator synthesizes: the DualCam action dataset's 14 actions, in its order
(action index k is ``Action_{k+1:03d}`` in its files)."""

REFERENCE_SOUNDS: tuple[str, ...] = ("noise", "clicks")
"""Calibration signals the simulator also plays (a loudspeaker's broadband noise; clicks with an
LED that lights with each, for audio-video sync); not classes for the models."""

SCENARIOS: tuple[str, ...] = ("anechoic", "indoor", "outdoor")
"""Recording places: an anechoic chamber, an open-space office, an outdoor terrace."""

MOTIONS: tuple[str, ...] = ("static", "walk")
"""How a simulated source moves."""

FAULTS: tuple[str, ...] = ("dead", "stuck", "clipping", "noisy", "inverted", "swapped", "delay")
"""Microphone faults: what the simulator can make (all but ``delay``) and calibration names,
each with its reason (``delay``: a residual delay no capsule error explains)."""
