"""The names acam knows: sound classes and recording scenarios.

One owner per list: the simulator, the CLI's choices and the models all read them here.
"""

SOUND_CLASSES: tuple[str, ...] = ("clapping", "snapping", "whistling", "knocking", "typing",
                                  "paper_ripping", "speech", "hammering")
"""Sound classes the simulator synthesizes (after the DualCam action dataset)."""

SCENARIOS: tuple[str, ...] = ("anechoic", "indoor", "outdoor")
"""Recording places: an anechoic chamber, an open-space office, an outdoor terrace."""

MOTIONS: tuple[str, ...] = ("static", "walk")
"""How a simulated source moves."""
