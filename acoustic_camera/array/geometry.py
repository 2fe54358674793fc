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
        pos = np.asarray(self.positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 1:
            raise AcamError(f"array geometry {self.name!r}: positions must have shape (M, 3), got {pos.shape}")
        if not np.all(np.isfinite(pos)):
            raise AcamError(f"array geometry {self.name!r}: positions contain NaN or inf")
        m = pos.shape[0]
        names = tuple(self.names) if len(self.names) else tuple(f"mic{i}" for i in range(m))
        if len(names) != m:
            raise AcamError(f"array geometry {self.name!r}: {len(names)} names for {m} microphones")
        bad = np.zeros(m, dtype=bool) if self.bad is None else np.asarray(self.bad, dtype=bool).copy()
        if bad.shape != (m,):
            raise AcamError(f"array geometry {self.name!r}: bad mask must have shape ({m},), got {bad.shape}")
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
        p = self.positions[self.good]
        d = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
        return float(d.max())

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
        """Read Acoular's XML geometry format (extra attributes such as ``bad`` are optional)."""
        path = Path(path)
        try:
            root = ET.parse(path).getroot()
        except FileNotFoundError:
            raise AcamError(f"{path}: geometry file not found") from None
        except (ET.ParseError, OSError) as exc:
            raise AcamError(f"{path}: not a readable XML geometry file ({exc})") from None
        names, xyz, bad = [], [], []
        for i, el in enumerate(root.iter("pos")):
            try:
                xyz.append([float(el.attrib[a]) for a in "xyz"])
            except (KeyError, ValueError):
                raise AcamError(f"{path}: <pos> element {i} needs numeric x, y and z attributes, got {el.attrib}") from None
            names.append(el.attrib.get("Name", f"mic{i}"))
            bad.append(el.attrib.get("bad", "0").strip().lower() in ("1", "true", "yes"))
        if not xyz:
            raise AcamError(f"{path}: no <pos> elements: expected Acoular's <MicArray><pos Name x y z/>... format")
        return cls(np.array(xyz), tuple(names), np.array(bad), name or root.attrib.get("name", path.stem))


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
