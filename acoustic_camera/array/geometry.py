"""Microphone array geometry: positions, channel names and the bad-microphone mask.

The array frame is right-handed and matches the default camera frame (OpenCV convention):
x to the right and y downwards as seen from behind the array looking at the scene, z along
the array normal towards the scene. Positions are in metres.

Geometries load from and save to Acoular's XML format
(``<MicArray name=".."><pos Name=".." x=".." y=".." z=".."/>...</MicArray>``), so files of
that ecosystem (e.g. its ``minidsp_uma-16.xml``) load unchanged. A bad microphone is written
as an extra ``bad="1"`` attribute, which Acoular ignores.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import AcamError
from ..io.atomic import atomic_output
from ..options import CHANNELS, COORDINATE, MAX_METRES
from ..options import shown as _shown

MAX_MICS = CHANNELS.hi
"""Most microphones in one layout (the largest arrays built hold about a thousand)."""
MIN_SPACING_M = 1e-6
"""Two microphones closer than this are one point written twice (capsules are millimetres wide)."""
MAX_XML_BYTES = 16 * 2**20
"""Largest geometry file read (4096 microphones take about 400 kB)."""




PRESETS = ("dualcam128", "uma16")
"""The shipped layouts."""


@dataclass(frozen=True, eq=False)
class ArrayGeometry:
    """A microphone array.

    Attributes:
        positions: (M, 3) float64 microphone positions in metres, array frame.
        names: M channel names, in channel order.
        bad: (M,) bool, True for microphones to exclude (broken, masked).
        name: a short name for the layout.
    """

    positions: np.ndarray
    names: tuple[str, ...] = ()
    bad: np.ndarray = field(default=None)  # type: ignore[assignment]
    name: str = "array"

    def __post_init__(self) -> None:
        """Refuse, in one line, positions no array has: not (M, 3), more than
        :data:`MAX_MICS` microphones, non-finite, farther than 1 km from the array's origin, or
        two microphones at one point (closer than :data:`MIN_SPACING_M`; so an array of two or
        more has an aperture). One microphone is allowed here (a training copy keeps one
        channel); a layout read from a file needs two (:meth:`from_xml`)."""
        where = f"array geometry {self.name!r}"
        try:
            pos = np.asarray(self.positions)
            if pos.dtype.kind not in "iuf":
                raise TypeError
            pos = pos.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            raise AcamError(f"{where}: positions: expected (M, 3) numbers in metres, found {_shown(self.positions)}") from None
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 1:
            raise AcamError(f"{where}: positions must have shape (M, 3), got {pos.shape}")
        m = pos.shape[0]
        if m > MAX_MICS:
            raise AcamError(f"{where}: expected at most {MAX_MICS} microphones, found {m}")
        names = tuple(self.names) if len(self.names) else tuple(f"mic{i}" for i in range(m))
        if len(names) != m:
            raise AcamError(f"{where}: {len(names)} names for {m} microphones")
        bad = np.zeros(m, dtype=bool) if self.bad is None else np.asarray(self.bad, dtype=bool).copy()
        if bad.shape != (m,):
            raise AcamError(f"{where}: bad mask must have shape ({m},), got {bad.shape}")
        finite = np.all(np.isfinite(pos), axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise AcamError(f"{where}: microphone {i} ({names[i]}): expected a finite position in metres, "
                            f"found {pos[i].tolist()} (positions contain NaN or inf)")
        far = np.linalg.norm(np.clip(pos, -2 * MAX_METRES, 2 * MAX_METRES), axis=1) > MAX_METRES  # clipped: no overflow
        if far.any():
            i = int(np.flatnonzero(far)[0])
            raise AcamError(f"{where}: microphone {i} ({names[i]}): expected a position within {MAX_METRES:g} m of the "
                            f"array's origin, found {_shown(pos[i].tolist())}")
        if m > 1:
            from scipy.spatial import cKDTree

            pairs = cKDTree(pos).query_pairs(MIN_SPACING_M, output_type="ndarray")
            if len(pairs):
                i, j = sorted(int(v) for v in pairs[np.lexsort(pairs.T[::-1])][0])
                what = "all microphones at one point (aperture 0)" if np.ptp(pos, axis=0).max() < MIN_SPACING_M else \
                    f"microphones {i} ({names[i]}) and {j} ({names[j]}) both at {_shown(pos[i].tolist())}"
                raise AcamError(f"{where}: expected distinct microphone positions (at least {MIN_SPACING_M * 1e6:g} um "
                                f"apart), found {what}")
        pos.setflags(write=False)
        bad.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "bad", bad)

    @property
    def n_mics(self) -> int:
        return self.positions.shape[0]

    @property
    def good(self) -> np.ndarray:
        """(M,) bool, True for microphones in use."""
        return ~self.bad

    @property
    def aperture(self) -> float:
        """Largest distance between two good microphones, in metres."""
        from scipy.spatial.distance import pdist

        p = self.positions[self.good]
        return float(pdist(p).max()) if len(p) > 1 else 0.0

    def mirrored_y(self) -> "ArrayGeometry":
        """The layout mirrored top to bottom (y -> -y): for a vendor file written with y up where
        acam's array frame has y down (Acoular's issue #63: a mirrored UMA-16 file). A mirrored
        layout puts every source at its mirror image in the picture, so it must be right."""
        from dataclasses import replace

        return replace(self, positions=self.positions * np.array([1.0, -1.0, 1.0]), name=f"{self.name} (y mirrored)")

    def with_bad(self, indices) -> "ArrayGeometry":
        """A copy with the given microphone indices (0-based) marked bad, in addition to those already bad."""
        bad = self.bad.copy()
        idx = np.asarray(list(indices), dtype=int)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_mics):
            raise AcamError(f"array geometry {self.name!r}: bad microphone index out of range 0..{self.n_mics - 1}: {idx.tolist()}")
        bad[idx] = True
        return ArrayGeometry(self.positions, self.names, bad, self.name)

    def to_xml(self, path: str | Path, comment: str = "", overwrite: bool = True) -> None:
        """Write Acoular's XML geometry format, with an optional provenance comment (through a
        temporary file: an interrupted write leaves no half layout)."""
        root = ET.Element("MicArray", name=self.name)
        if comment:
            root.append(ET.Comment(" " + comment.replace("--", "- -") + " "))
        for n, (x, y, z), b in zip(self.names, self.positions, self.bad):
            attrs = {"Name": n, "x": repr(float(x)), "y": repr(float(y)), "z": repr(float(z))}
            if b:
                attrs["bad"] = "1"
            ET.SubElement(root, "pos", attrs)
        ET.indent(root)
        with atomic_output(path, overwrite=overwrite) as tmp:
            tmp.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")

    @classmethod
    def from_xml(cls, path: str | Path, name: str | None = None) -> "ArrayGeometry":
        """Read Acoular's XML geometry format (extra attributes such as ``bad`` are optional).
        Refused in one line naming the file: not XML, over :data:`MAX_XML_BYTES`, a ``<pos>``
        without numeric x, y and z within 1 km, fewer than 2 or more than :data:`MAX_MICS`
        microphones, two at one point."""
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_XML_BYTES:
                raise AcamError(f"{path}: expected an XML geometry file of at most {MAX_XML_BYTES >> 20} MB, "
                                f"found {size / 2**20:.0f} MB")
            with open(path, "rb") as f:
                data = f.read(MAX_XML_BYTES + 1)
        except FileNotFoundError:
            raise AcamError(f"{path}: geometry file not found") from None
        except OSError as exc:
            raise AcamError(f"{path}: not a readable XML geometry file ({exc.strerror or exc})") from None
        if len(data) > MAX_XML_BYTES:
            raise AcamError(f"{path}: expected an XML geometry file of at most {MAX_XML_BYTES >> 20} MB, found more")
        try:
            root = ET.fromstring(data)
        except (ET.ParseError, ValueError, RecursionError) as exc:
            raise AcamError(f"{path}: not a readable XML geometry file ({_one_line(exc)})") from None
        names, xyz, bad = [], [], []
        for i, el in enumerate(root.iter("pos")):
            if i >= MAX_MICS:
                raise AcamError(f"{path}: expected at most {MAX_MICS} <pos> elements (microphones), found more")
            try:
                xyz.append([COORDINATE(el.attrib[a], "x, y, z") for a in "xyz"])
            except (KeyError, AcamError):
                found = {a: el.attrib.get(a) for a in "xyz"}
                raise AcamError(f"{path}: <pos> element {i} needs numeric x, y and z attributes (metres, each "
                                f"{COORDINATE.describe()}), got {_shown(found)}") from None
            names.append(el.attrib.get("Name", f"mic{i}"))
            bad.append(el.attrib.get("bad", "0").strip().lower() in ("1", "true", "yes"))
        if not xyz:
            raise AcamError(f"{path}: no <pos> elements: expected Acoular's <MicArray><pos Name x y z/>... format")
        if len(xyz) < 2:
            raise AcamError(f"{path}: expected an array of at least 2 microphones (<pos> elements), found 1")
        try:
            return cls(np.array(xyz), tuple(names), np.array(bad), name or root.attrib.get("name", path.stem))
        except AcamError as exc:
            raise AcamError(f"{path}: {exc}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def preset(name: str) -> ArrayGeometry:
    """A shipped geometry: ``dualcam128`` (optimized aperiodic 128-mic layout on a 0.45 m board)
    or ``uma16`` (miniDSP UMA-16, 4x4 at 42 mm pitch, Acoular's channel order)."""
    if name not in PRESETS:
        raise AcamError(f"--geometry: expected a preset ({', '.join(PRESETS)}) or an XML file, found {name!r}")
    with resources.as_file(resources.files("acoustic_camera") / "data" / f"{name}.xml") as p:
        return ArrayGeometry.from_xml(p, name=name)


def load_geometry(spec: str | Path) -> ArrayGeometry:
    """A preset name or the path of an XML geometry file."""
    if str(spec) in PRESETS:
        return preset(str(spec))
    if not Path(spec).exists():
        raise AcamError(f"{spec}: geometry file not found (expected a preset, {', '.join(PRESETS)}, or an Acoular XML file)")
    return ArrayGeometry.from_xml(spec)
