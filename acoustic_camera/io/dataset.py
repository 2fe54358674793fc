"""A dataset's two files: the manifest and the split, written by ``acam dataset make`` and read
by every run that trains or evaluates on the dataset (one owner: reader and writer side by side).

``manifest.csv`` (at the dataset's root), one row per session:

    path      the session file, relative to the root (scenario/subject-NN/action/NAME.h5); its
              acoustic file (MFCC + energy) is NAME.acoustic.h5 beside it
    label     the action (sound class); scenario; subject ("subject-NN")
    seed      the simulation's seed; seconds: its planned length; frames: video frames written
    sha256    SHA-256 of the session's full 128-channel audio as recorded (/time_data, float32
              rows; also what its acoustic file names as ``session_time_data_sha256``), kept
              when ``--keep training`` drops that audio
    status    pending | done | failed (a failed one is retried by the next run); error: why

``split.json``: the one split every later run uses. Each session's 10-second blocks (the last
one may be short) are cut 80/10/10 into train / validation / test within each scenario on its
own, so that each scenario has its own held-out test blocks, and within each scenario stratified
by action: the blocks of each action are shuffled (a fixed seed, salted with the scenario's name)
and dealt to the parts in turn, so that every action has its share of test blocks in every
scenario (version 2; version 1 shuffled the scenario's blocks as one list with the same seed in
every scenario, which put the same actions' blocks in every scenario's test part and left half
of the actions with none). Runs name the split by the file's SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import DUALCAM_FPS
from ..errors import AcamError
from .atomic import atomic_output

MANIFEST_NAME = "manifest.csv"
SPLIT_NAME = "split.json"
MANIFEST_FIELDS = ("path", "label", "scenario", "subject", "seed", "seconds", "frames", "sha256", "status", "error")
STATUSES = ("pending", "done", "failed")
PARTS = ("train", "validation", "test")
SPLIT_SCHEMA = "acam-split"
SPLIT_VERSION = 2
SPLIT_SEED = 42  # the DualCam lists' seed
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
BLOCK_SECONDS = 10.0


def read_manifest(root) -> list[dict]:
    """The manifest's rows (empty when the dataset has none yet); errors name the file, the row
    and the field."""
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != MANIFEST_FIELDS:
            raise AcamError(f"{path}: header: expected {','.join(MANIFEST_FIELDS)}, found {','.join(reader.fieldnames or ())}")
        rows = []
        for i, r in enumerate(reader, start=2):
            if r["status"] not in STATUSES:
                raise AcamError(f"{path}: line {i}: status: expected one of {', '.join(STATUSES)}, found {r['status']!r}")
            try:
                r["seed"], r["frames"], r["seconds"] = int(r["seed"]), int(r["frames"] or 0), float(r["seconds"])
            except ValueError:
                raise AcamError(f"{path}: line {i}: seed, frames, seconds: expected numbers, found "
                                f"{r['seed']!r}, {r['frames']!r}, {r['seconds']!r}") from None
            rows.append(r)
    return rows


def write_manifest(root, rows) -> Path:
    """Write the manifest (atomically: a run killed while writing it keeps the previous one)."""
    path = Path(root) / MANIFEST_NAME
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in MANIFEST_FIELDS})
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(buf.getvalue())
    return path


def assign_parts(units, seed: int = SPLIT_SEED, fractions=SPLIT_FRACTIONS, strata: dict | None = None,
                 salt: str = "") -> dict:
    """Each unit's part (train, validation, test) by ``fractions``. The one shuffle every split uses.

    Without ``strata``: the units sorted, shuffled by ``seed`` and cut, as the DualCam lists were
    made. With ``strata`` (unit -> class): the units shuffled, grouped by class (classes in a
    shuffled order, the shuffle kept within each), and dealt in that order to the part furthest below its share so far, so that
    each class gets its share of every part (to within one unit) and the whole its exact counts.
    ``salt`` (e.g. the scenario) varies the shuffle between groups split with the same seed."""
    units = sorted(set(units))
    rng = np.random.default_rng([seed, zlib.crc32(salt.encode())] if salt else seed)
    order = rng.permutation(len(units))
    if strata is None:
        n_train = int(round(fractions[0] * len(units)))
        n_val = int(round(fractions[1] * len(units)))
        return {units[i]: PARTS[0] if rank < n_train else PARTS[1] if rank < n_train + n_val else PARTS[2]
                for rank, i in enumerate(order)}
    # classes in a shuffled order too: dealt in name order, the classes that fall on the rarer
    # parts' turns would be the same in every group split alike
    classes = sorted({str(strata[u]) for u in units})
    rank = {c: r for r, c in enumerate(rng.permutation(len(classes)))}
    rank = {c: rank[i] for i, c in enumerate(classes)}
    order = sorted(order, key=lambda i: rank[str(strata[units[i]])])  # stable: shuffled within each class
    counts = [0, 0, 0]
    out = {}
    for k, i in enumerate(order):
        j = max(range(3), key=lambda p: (fractions[p] * (k + 1) - counts[p], -p))
        counts[j] += 1
        out[units[i]] = PARTS[j]
    return out


def blocks_of(frames: int, block_seconds: float = BLOCK_SECONDS, fps: float = DUALCAM_FPS) -> int:
    """How many 10-second blocks (the last may be short) a session of ``frames`` video frames has."""
    per_block = int(round(block_seconds * fps))
    return -(-int(frames) // per_block)


@dataclass(frozen=True)
class Split:
    """An open split file: ``part[(session file name, block)]`` is train, validation or test;
    ``scenario`` of each unit likewise."""

    path: Path
    sha256: str
    seed: int
    fractions: tuple[float, float, float]
    block_seconds: float
    part: dict
    scenario: dict

    def units(self, part: str, scenarios=None) -> set:
        return {u for u, p in self.part.items() if p == part and (scenarios is None or self.scenario[u] in scenarios)}


def make_split(rows, seed: int = SPLIT_SEED, fractions=SPLIT_FRACTIONS, block_seconds: float = BLOCK_SECONDS) -> dict:
    """The split of the manifest's done sessions, as the JSON object :func:`write_split` stores."""
    names = [Path(r["path"]).name for r in rows]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise AcamError(f"manifest: path: expected session file names unique in the dataset (runs name sessions by "
                        f"them), found {', '.join(dup[:3])} more than once")
    units, label = {}, {}
    for r in rows:
        for b in range(blocks_of(r["frames"], block_seconds)):
            units[(Path(r["path"]).name, b)] = (r["path"], r["scenario"])
            label[(Path(r["path"]).name, b)] = r.get("label", "")
    part = {}
    for scen in sorted({s for _, s in units.values()}):
        part.update(assign_parts([u for u, (_, s) in units.items() if s == scen], seed, fractions, strata=label, salt=scen))
    return {"acam_schema": SPLIT_SCHEMA, "acam_schema_version": SPLIT_VERSION, "seed": seed,
            "fractions": list(fractions), "block_seconds": block_seconds, "stratified_by": "label",
            "units": [{"session": units[u][0], "block": u[1], "scenario": units[u][1], "part": part[u]}
                      for u in sorted(units, key=lambda u: (units[u][0], u[1]))]}


def write_split(root, split: dict) -> Path:
    path = Path(root) / SPLIT_NAME
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(split, indent=1) + "\n")
    return path


def read_split(path) -> Split:
    """Open and validate a split file; one-line errors name the file and the field."""
    from .jsonfile import read_json

    path = Path(path)
    d, raw = read_json(path, "a JSON split file (acam dataset make)")
    if not isinstance(d, dict) or d.get("acam_schema") != SPLIT_SCHEMA:
        found = d.get("acam_schema") if isinstance(d, dict) else type(d).__name__
        raise AcamError(f"{path}: acam_schema: expected '{SPLIT_SCHEMA}', found {str(found)[:40]!r}")
    try:
        return _split(path, d, raw)
    except (TypeError, ValueError, KeyError, AttributeError):
        raise AcamError(f"{path}: expected seed, fractions, block_seconds and units as acam dataset make writes them, "
                        "found values of other types") from None


def _split(path: Path, d: dict, raw: bytes) -> Split:
    if int(d.get("acam_schema_version", 0)) > SPLIT_VERSION:
        raise AcamError(f"{path}: acam_schema_version: expected at most {SPLIT_VERSION}, found {d['acam_schema_version']} (upgrade acam)")
    part, scen = {}, {}
    units = d.get("units", [])
    if not isinstance(units, list):
        raise AcamError(f"{path}: units: expected a list of blocks, found {type(units).__name__}")
    for i, u in enumerate(units):
        try:
            key = (Path(u["session"]).name, int(u["block"]))
            if u["part"] not in PARTS:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise AcamError(f"{path}: units[{i}]: expected session, block, scenario and part ({', '.join(PARTS)}), "
                            f"found {str(u)[:60]}") from None
        if key in part:
            raise AcamError(f"{path}: units[{i}]: {key[0]} block {key[1]} appears twice")
        part[key], scen[key] = u["part"], str(u.get("scenario", ""))
    if not part:
        raise AcamError(f"{path}: units: expected the dataset's blocks, found none")
    return Split(path=path, sha256=hashlib.sha256(raw).hexdigest(), seed=int(d.get("seed", SPLIT_SEED)),
                 fractions=tuple(d.get("fractions", SPLIT_FRACTIONS)), block_seconds=float(d.get("block_seconds", BLOCK_SECONDS)),
                 part=part, scenario=scen)


def find_split(session_paths) -> Path | None:
    """The split file of the dataset the sessions belong to: the first ``split.json`` beside a
    manifest above them, when they all share it; None when they are not all in one dataset."""
    found = set()
    for p in session_paths:
        hit = None
        for parent in Path(p).resolve().parents:
            if (parent / SPLIT_NAME).is_file() and (parent / MANIFEST_NAME).is_file():
                hit = parent / SPLIT_NAME
                break
        found.add(hit)
    return found.pop() if len(found) == 1 else None
