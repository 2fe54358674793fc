"""What a dataset holds: presets and the plan of its sessions.

A session is one subject performing one action in one scenario, as in the DualCam action
dataset (3 scenarios x 9 subjects x 14 actions, at least 30 s each). Its seed comes from its
place in the tree alone, so a session is the same whichever run, worker or machine makes it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..catalog import SCENARIOS, SOUND_CLASSES
from ..errors import AcamError


@dataclass(frozen=True)
class DatasetPreset:
    name: str
    scenarios: tuple[str, ...]
    subjects: int
    seconds: float
    classes: tuple[str, ...] = SOUND_CLASSES
    note: str = ""


PRESETS = {
    "paper": DatasetPreset("paper", SCENARIOS, 9, 30.0,
                           note="the DualCam action dataset's size: 3 scenarios x 9 subjects x 14 actions x 30 s (378 sessions, 3.15 h)"),
    "small": DatasetPreset("small", SCENARIOS, 3, 20.0,
                           note="all 14 actions and 3 scenarios, 3 subjects, 20 s (126 sessions, 42 min of audio)"),
    "tiny": DatasetPreset("tiny", SCENARIOS[:2], 1, 2.0, (SOUND_CLASSES[0], SOUND_CLASSES[7]),
                          note="for tests: 2 scenarios x 1 subject x 2 actions x 2 s"),
}


@dataclass(frozen=True)
class SessionJob:
    """One session to make: where it goes in the tree and what defines it."""

    scenario: str
    subject: int
    label: str
    seconds: float
    seed: int

    @property
    def path(self) -> str:
        """Relative to the dataset root: scenario/subject-NN/action/NAME.h5 (the name alone is
        unique in the dataset: runs and checkpoints name sessions by it)."""
        s = f"subject-{self.subject:02d}"
        return str(PurePosixPath(self.scenario, s, self.label, f"{self.scenario}-{s}-{self.label}.h5"))


def session_seed(scenario: str, subject: int, label: str, base: int = 0) -> int:
    return zlib.crc32(f"{base}/{scenario}/{subject}/{label}".encode()) & 0x7FFFFFFF


def plan(preset: str | DatasetPreset, scenarios=None, subjects: int | None = None, seconds: float | None = None,
         classes=None, seed: int = 0) -> list[SessionJob]:
    """The sessions of a preset, with its scenarios, subject count, length or classes replaced
    where given; subjects are numbered from 1."""
    p = preset if isinstance(preset, DatasetPreset) else PRESETS.get(preset)
    if p is None:
        raise AcamError(f"--preset: expected one of {', '.join(PRESETS)}, found {preset!r}")
    scenarios = tuple(scenarios) if scenarios else p.scenarios
    classes = tuple(classes) if classes else p.classes
    subjects = p.subjects if subjects is None else subjects
    seconds = p.seconds if seconds is None else seconds
    for s in scenarios:
        if s not in SCENARIOS:
            raise AcamError(f"--scenarios: expected names from {', '.join(SCENARIOS)}, found {s!r}")
    for c in classes:
        if c not in SOUND_CLASSES:
            raise AcamError(f"--classes: expected names from {', '.join(SOUND_CLASSES)}, found {c!r}")
    if subjects < 1 or subjects > 99:
        raise AcamError(f"--subjects: expected 1 to 99, found {subjects}")
    if not seconds >= 1.0:
        raise AcamError(f"--seconds: expected at least 1 s per session, found {seconds:g}")
    return [SessionJob(scen, subj, label, float(seconds), session_seed(scen, subj, label, seed))
            for scen in scenarios for subj in range(1, subjects + 1) for label in classes]
