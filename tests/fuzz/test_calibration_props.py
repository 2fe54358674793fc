"""Hostile calibration files, cameras, array geometries, DualCam dumps and simulation settings
(issue 28): Hypothesis mutates valid inputs (any leaf replaced by any JSON value, NaN, Infinity,
1e400, a 5000-digit integer, text, nested lists; keys deleted; lists lengthened or shortened;
bytes cut) and each either loads with every number finite and within its stated range, or is
refused with one :class:`AcamError` line; never another exception, a hang or a NaN."""

import json
import math
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acoustic_camera.array.camera import DISTORTION, FOCAL_PX, IMAGE_SIDE, Camera, rotation_from_ypr
from acoustic_camera.array.geometry import MAX_MICS, MIN_SPACING_M, ArrayGeometry
from acoustic_camera.errors import AcamError
from acoustic_camera.io import calibration as calmod
from acoustic_camera.io.calibration import (Calibration, CameraCalibration, Fault, MicCalibration, PoseCalibration,
                                            SyncCalibration, load_calibration, write_calibration)
from acoustic_camera.io.dualcam import DC_BYTES, find_dualcam_frames
from acoustic_camera.options import MAX_METRES

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- values to put anywhere ----------------------------------------------------------------------
class _Raw:
    """JSON text written as it is: what Python's json.dumps cannot write (1e400, a 5000-digit
    integer, 100000-deep nesting)."""

    def __init__(self, text):
        self.text = text


RAW_TEXTS = {"5000 digits": "9" * 5000, "31 digits": "-" + "9" * 31, "1e400": "1e400", "-1e400": "-1e400", "NaN": "NaN",
             "Infinity": "Infinity", "-Infinity": "-Infinity", "100000 deep": "[" * 100000 + "]" * 100000,
             "3000 deep": "[" * 3000 + "1" + "]" * 3000, "400-digit float": "1" + "0" * 400 + ".5"}
RAW = st.sampled_from(sorted(RAW_TEXTS)).map(lambda k: _Raw(RAW_TEXTS[k]))  # keys: a short strategy repr
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e-300, 0.0, -0.0, 5e-324, 1e308,
                           10**30, -(10**31), 2**63, 1e-3, 1e3, 999.9, 0.0011])
LEAF = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | SPECIAL
        | st.text(max_size=8) | st.sampled_from(["1.5", "NaN", "", "640", "true"]))
JSON = st.recursive(LEAF | RAW, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                    max_leaves=12)


def _dumps(doc) -> str:
    raws = {}

    def default(o):
        if isinstance(o, _Raw):
            key = f"@@{uuid.uuid4().hex}@@"
            raws[key] = o.text
            return key
        raise TypeError(type(o).__name__)

    text = json.dumps(doc, default=default)
    for key, raw in raws.items():
        text = text.replace(json.dumps(key), raw)
    return text


def _paths(doc) -> list[tuple]:
    out, stack = [], [(doc, ())]
    while stack:
        v, p = stack.pop()
        if p:
            out.append(p)
        if isinstance(v, dict):
            stack.extend((x, p + (k,)) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, p + (i,)) for i, x in enumerate(v))
    return sorted(out, key=repr)


def _mutate(doc, data, values=JSON, n_max=3):
    """Up to ``n_max`` edits of ``doc`` (in place): a node replaced, a key or item deleted, an item
    appended to a list."""
    for _ in range(data.draw(st.integers(1, n_max), label="edits")):
        paths = _paths(doc)
        if not paths:
            return doc
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = data.draw(st.sampled_from(["replace", "replace", "delete", "append"]), label="op")
        if op == "replace":
            parent[key] = data.draw(values, label="value")
        elif op == "delete":
            del parent[key]
        elif isinstance(parent[key], list):
            parent[key].append(data.draw(values, label="value"))
        else:
            parent[key] = [parent[key], data.draw(values, label="value")]
    return doc


# -- (a) the calibration file ----------------------------------------------------------------------
def _valid_calibration() -> Calibration:
    freqs = np.arange(8) * 250.0
    rng = np.random.default_rng(0)
    gains = np.exp(rng.normal(0, 0.1, (4, 8)) + 1j * rng.normal(0, 0.3, (4, 8)))
    mic = MicCalibration(freqs, gains, (250.0, 1500.0), (1.2, 0.4, 2.5), (Fault(1, "dead", True, "no signal"),
                                                                          Fault(2, "inverted", False, "180 deg")))
    cam = CameraCalibration(640, 480, 554.0, 550.0, 321.0, 238.5, (-0.1, 0.02, 0.0, 0.001, 0.0), 0.21, 9,
                            ("view3.png",), (9, 6), 0.025)
    sync = SyncCalibration(0.09, 23, 0.005, 3.0)
    pose = PoseCalibration(rotation=rotation_from_ypr(4.0, -2.0, 1.0), translation=np.array([0.03, 0.0, 0.0]),
                           translation_estimated=True, rms_deg=0.4, rotation_sd_deg=0.05, translation_sd_m=0.004,
                           frames_used=110, frames_rejected=4, marker_id=0, marker_size_m=0.15, band_hz=(500.0, 5000.0))
    return Calibration(mic, cam, sync, pose, sources=({"path": "cal.h5", "time_data_sha256": "ab" * 32},))


@pytest.fixture(scope="module")
def cal_base():
    with tempfile.TemporaryDirectory(prefix="acam-calprops-") as d:
        path = write_calibration(Path(d) / "valid.json", _valid_calibration())
        yield Path(d), path.read_text()


def _in(spec, x) -> bool:
    try:
        return spec(x, "x") == x
    except AcamError:
        return False


def _assert_sane(cal: Calibration) -> None:
    """Every number of a loaded calibration finite and within the module's stated ranges."""
    m = cal.microphones
    if m is not None:
        f, g = m.freqs, m.gains
        assert f.ndim == 1 and f.size >= 1 and np.all(np.isfinite(f)) and np.all(np.diff(f) > 0)
        assert np.all((f >= 0) & (f <= 192000))
        assert g.shape == (g.shape[0], f.size) and 1 <= g.shape[0] <= calmod.N_MICS.hi
        assert np.all(np.isfinite(g)) and np.all((np.abs(g) >= calmod.GAIN_MIN * (1 - 1e-12))
                                                 & (np.abs(g) <= calmod.GAIN_MAX * (1 + 1e-12)))
        assert np.all(np.isfinite(m.band)) and 0 <= m.band[0] < m.band[1]
        assert all(math.isfinite(v) and abs(v) <= MAX_METRES for v in m.source_position)
        assert all(0 <= ft.mic < g.shape[0] and isinstance(ft.exclude, bool) for ft in m.faults)
        assert np.all(np.isfinite(m.gains_at(np.linspace(0, 6000, 7))))
    c = cal.camera
    if c is not None:
        assert _in(IMAGE_SIDE, c.width) and _in(IMAGE_SIDE, c.height)
        assert _in(FOCAL_PX, c.fx) and _in(FOCAL_PX, c.fy)
        assert -0.5 <= c.cx <= c.width - 0.5 and -0.5 <= c.cy <= c.height - 0.5
        assert len(c.distortion) == 5 and all(_in(DISTORTION, k) for k in c.distortion)
        assert math.isfinite(c.rms_px) and c.rms_px >= 0 and math.isfinite(c.square_m) and c.square_m > 0
        c.camera()  # the Camera takes them
    y = cal.sync
    if y is not None:
        assert _in(calmod.AV_OFFSET, y.av_offset_s) and _in(calmod.UNCERTAINTY_S, y.uncertainty_s)
        assert _in(calmod.DISTANCE_M, y.distance_m) and isinstance(y.events, int) and y.events >= 0
    p = cal.pose
    if p is not None:
        R = p.rotation
        assert R.shape == (3, 3) and np.all(np.isfinite(R)) and np.allclose(R @ R.T, np.eye(3), atol=1e-6)
        assert np.linalg.det(R) > 0
        assert p.translation.shape == (3,) and np.all(np.abs(p.translation) <= MAX_METRES)
        assert all(math.isfinite(v) for v in (p.rms_deg, p.rotation_sd_deg, *p.band_hz))
        assert p.translation_sd_m is None or math.isfinite(p.translation_sd_m)
        assert p.marker_size_m is None or (math.isfinite(p.marker_size_m) and p.marker_size_m > 0)


def _load_or_refuse(path: Path):
    """The calibration, or None when refused in one line naming the file."""
    try:
        cal = load_calibration(path)
    except AcamError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(path) in msg, msg
        return None
    _assert_sane(cal)
    return cal


def test_the_valid_file_loads(cal_base):
    d, text = cal_base
    cal = _load_or_refuse(d / "valid.json")
    assert cal is not None and cal.microphones.gains.shape == (4, 8) and cal.pose.marker_id == 0


@FAST
@given(data=st.data())
def test_a_mutated_calibration_loads_sane_or_is_refused_in_one_line(cal_base, data):
    d, text = cal_base
    doc = _mutate(json.loads(text), data)
    raw = _dumps(doc).encode()
    if data.draw(st.booleans(), label="cut"):
        raw = raw[: data.draw(st.integers(0, len(raw)), label="at")]
    path = d / "mutated.json"
    path.write_bytes(raw)
    _load_or_refuse(path)


@FAST
@given(field=st.sampled_from(["microphones", "camera", "sync", "pose"]), data=st.data())
def test_a_field_of_the_wrong_kind_names_itself(cal_base, field, data):
    """Any one field of a block replaced by a value of another kind, or deleted: refused, naming
    the block's field (or loaded sane when the value happens to be valid there)."""
    d, text = cal_base
    doc = json.loads(text)
    key = data.draw(st.sampled_from(sorted(doc[field])), label="key")
    if data.draw(st.booleans(), label="delete"):
        del doc[field][key]
    else:
        doc[field][key] = data.draw(JSON, label="value")
    path = d / "field.json"
    path.write_bytes(_dumps(doc).encode())
    try:
        _assert_sane(load_calibration(path))
    except AcamError as exc:
        assert "\n" not in str(exc) and (f"{field}/" in str(exc) or "file:" in str(exc)), str(exc)


@pytest.mark.parametrize("text, where", [
    ("[" * 100000 + "]" * 100000, "file: expected JSON nested"),
    ('{"acam_schema": "acam-calibration", "version": 1, "sync": {"av_offset_s": 0.1, "events": ' + "9" * 5000 + "}}",
     "sync/events: expected a whole number"),
    ('{"acam_schema": "acam-calibration", "version": 1, "sync": {"av_offset_s": NaN}}', "sync/av_offset_s"),
    ('{"acam_schema": "acam-calibration", "version": 1, "sync": {"av_offset_s": 1e400}}', "found 1e400"),
    ('{"acam_schema": "acam-calibration", "version": 1, "sources": [{"n": -Infinity}]}', "sources[0]/n: expected a finite"),
])
def test_hostile_json_is_one_line_naming_the_field(tmp_path, text, where):
    p = tmp_path / "h.json"
    p.write_text(text)
    with pytest.raises(AcamError, match=r"h\.json: ") as e:
        load_calibration(p)
    assert where in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("edit, where", [
    (lambda m, c, y, p: m.update(freqs_hz=[]), "microphones/freqs_hz: expected a non-empty list"),
    (lambda m, c, y, p: m.update(band_hz=[1500.0, 250.0]), "microphones/band_hz: expected [lo, hi] in Hz with lo < hi"),
    (lambda m, c, y, p: m["gain_re"][2].__setitem__(3, 1e300), "microphones/gain_re[2][3]"),
    (lambda m, c, y, p: (m["gain_re"][2].__setitem__(3, 1e-300), m["gain_im"][2].__setitem__(3, 0)),
     "gain_im[2][3]: expected a gain magnitude from 0.001 to 1000"),
    (lambda m, c, y, p: (m["gain_re"][0].__setitem__(0, 0), m["gain_im"][0].__setitem__(0, 0)), "found 0 (microphone 0"),
    (lambda m, c, y, p: m.update(n_mics=5), "expected (5, 8) numbers each, found (4, 8) and (4, 8)"),
    (lambda m, c, y, p: m.update(source_position_m=[0, 0, None]), "microphones/source_position_m[2]"),
    (lambda m, c, y, p: m["faults"][0].update(exclude="false"), "microphones/faults[0]/exclude: expected true or false"),
    (lambda m, c, y, p: m["faults"][0].update(mic=4), "microphones/faults[0]/mic: expected a whole number from 0 to 3"),
    (lambda m, c, y, p: c.update(fx=0), "camera/fx"),
    (lambda m, c, y, p: c.update(fy=-554.0), "camera/fy"),
    (lambda m, c, y, p: c.update(cx=700.0), "camera/cx: expected a finite number >= -0.5 px and <= 639.5 px"),
    (lambda m, c, y, p: c.update(width=10**6), "camera/width"),
    (lambda m, c, y, p: c.update(distortion=[0, 0, 0, 0]), "camera/distortion: expected a list of 5"),
    (lambda m, c, y, p: c.update(fx="554"), "found the text '554'"),
    (lambda m, c, y, p: y.update(av_offset_s=3600.0), "sync/av_offset_s: expected a finite number >= -5 s and <= 5 s"),
    (lambda m, c, y, p: y.update(events=None), "sync/events: expected a whole number from 0 to 1000000000 events, found null"),
    (lambda m, c, y, p: p.update(rotation=[[1, 0, 0], [0, 1, 0]]), "pose/rotation: expected a proper 3x3"),
    (lambda m, c, y, p: p.update(translation_m=[0, 0, 1e9]), "pose/translation_m[2]"),
])
def test_each_bad_field_is_named(cal_base, tmp_path, edit, where):
    doc = json.loads(cal_base[1])
    edit(doc["microphones"], doc["camera"], doc["sync"], doc["pose"])
    p = tmp_path / "c.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(AcamError) as e:
        load_calibration(p)
    assert where in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    p = tmp_path / "big.json"
    with open(p, "wb") as f:
        f.truncate(calmod.MAX_FILE_BYTES + 1)  # sparse: nothing is written
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read the whole file"))
    with pytest.raises(AcamError, match=r"big\.json: file: expected a calibration file of at most 64 MB, found 64 MB"):
        load_calibration(p)


def test_the_writer_refuses_what_the_reader_would(tmp_path):
    good = _valid_calibration()
    bad = [Calibration(sync=SyncCalibration(math.nan, 3, 0.01, 3.0)),
           Calibration(camera=CameraCalibration(640, 480, math.inf, 554.0, 319.5, 239.5, (0,) * 5, 0.1, 9)),
           Calibration(microphones=MicCalibration(good.microphones.freqs, good.microphones.gains * 1e-6,
                                                  (250.0, 1500.0), (1.0, 0.0, 2.0))),
           Calibration(sources=({"seconds": math.inf},))]
    for i, cal in enumerate(bad):
        with pytest.raises(AcamError, match=rf"w{i}\.json: "):
            write_calibration(tmp_path / f"w{i}.json", cal)
        assert not (tmp_path / f"w{i}.json").exists()


def test_the_sessions_own_checks():
    cal = _valid_calibration()
    cal.check_session(4, 640, 480, 10.0)
    for args, where in (((128, 640, 480, 10.0), "n_mics"), ((4, 320, 240, 10.0), "640x480"),
                        ((4, 640, 480, 0.05), "av_offset_s: expected an offset shorter than the session's 0.05 s")):
        with pytest.raises(AcamError, match="--calibration: "):
            try:
                cal.check_session(*args)
            except AcamError as exc:
                assert where.split(":")[0] in str(exc) or where in str(exc)
                raise


# -- (b) the camera and the array geometry ---------------------------------------------------------
NUMPY = st.sampled_from([np.float64("nan"), np.float32(1e30), np.int64(640), np.full((3, 3), np.nan), np.eye(4),
                         np.zeros(5), np.array(["a", "b"]), np.array([1, 2, 3], dtype=object)])


@FAST
@given(data=st.data())
def test_camera_from_a_mutated_dict_is_sane_or_refused(data):
    base = Camera().posed(yaw=3.0, pitch=-1.0, roll=0.5, position=(0.02, 0.0, 0.0)).to_dict()
    d = _mutate(base, data, values=JSON.filter(lambda v: not isinstance(v, _Raw)) | NUMPY | SPECIAL)
    try:
        cam = Camera.from_dict(d)
    except AcamError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("camera"), str(exc)
        return
    assert isinstance(cam.width, int) and _in(IMAGE_SIDE, cam.width) and _in(IMAGE_SIDE, cam.height)
    assert _in(FOCAL_PX, cam.fx) and _in(FOCAL_PX, cam.fy)
    assert -0.5 <= cam.cx <= cam.width - 0.5 and -0.5 <= cam.cy <= cam.height - 0.5
    assert np.all(np.isfinite(cam.distortion)) and np.all(np.abs(cam.distortion) <= DISTORTION.hi)
    assert np.allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-6) and np.linalg.det(cam.rotation) > 0
    assert np.all(np.isfinite(cam.translation)) and np.all(np.abs(cam.translation) <= MAX_METRES)
    uv, front = cam.project(np.array([0.1, 0.0, 3.0]))
    assert not front or np.all(np.isfinite(uv))


COORD = st.floats(-1500, 1500) | SPECIAL | st.sampled_from([0.0, 0.5, 0.5 + 1e-9]) | st.text(max_size=3) | st.none()


@FAST
@given(rows=st.lists(st.lists(COORD, min_size=2, max_size=4), max_size=6), repeat=st.booleans(), data=st.data())
def test_array_geometry_is_sane_or_refused(rows, repeat, data):
    if repeat and rows:
        rows = rows + [list(rows[data.draw(st.integers(0, len(rows) - 1))])]
    try:
        g = ArrayGeometry(rows)
    except AcamError as exc:
        assert "\n" not in str(exc) and "array geometry" in str(exc), str(exc)
        return
    p = g.positions
    assert p.shape == (len(rows), 3) and 1 <= len(p) <= MAX_MICS and np.all(np.isfinite(p))
    assert np.all(np.linalg.norm(p, axis=1) <= MAX_METRES)
    if len(p) > 1:
        d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p)) * 1e9
        assert d.min() >= MIN_SPACING_M and g.aperture > 0


ATTR = st.sampled_from(["0", "0.042", "-0.1", "nan", "inf", "1e400", "5000 digits", "", "x", "1e3", "1001", "0x10"]).map(
    lambda a: "9" * 5000 if a == "5000 digits" else a) | st.text(max_size=6)


@FAST
@given(rows=st.lists(st.tuples(ATTR, ATTR, ATTR), max_size=5), data=st.data())
def test_xml_geometry_is_sane_or_refused(rows, data):
    import xml.etree.ElementTree as ET

    root = ET.Element("MicArray", name="fuzz")
    for i, (x, y, z) in enumerate(rows):
        attrs = {"Name": f"m{i}", "x": x, "y": y, "z": z}
        if data.draw(st.booleans(), label="drop"):
            attrs.pop(data.draw(st.sampled_from("xyz"), label="which"))
        ET.SubElement(root, "pos", attrs)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "g.xml"
        p.write_bytes(ET.tostring(root))
        try:
            g = ArrayGeometry.from_xml(p)
        except AcamError as exc:
            assert "\n" not in str(exc) and str(p) in str(exc), str(exc)
            return
    assert g.n_mics >= 2 and np.all(np.isfinite(g.positions)) and g.aperture > 0
    assert np.all(np.linalg.norm(g.positions, axis=1) <= MAX_METRES)


def test_xml_bombs_are_refused(tmp_path):
    lol = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' +
           "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) +
           ']><MicArray><pos Name="&j;" x="0" y="0" z="0"/></MicArray>')
    for name, text in (("lol.xml", lol), ("deep.xml", "<a>" * 100000 + "</a>" * 100000),
                       ("one.xml", '<MicArray><pos x="0" y="0" z="0"/></MicArray>'),
                       ("same.xml", '<MicArray><pos x="0.1" y="0" z="0"/><pos x="0.1" y="0" z="0"/></MicArray>'),
                       ("far.xml", '<MicArray><pos x="0" y="0" z="0"/><pos x="999" y="999" z="0"/></MicArray>')):
        (tmp_path / name).write_text(text)
        t = time.perf_counter()
        with pytest.raises(AcamError, match=name.replace(".", r"\.")) as e:
            ArrayGeometry.from_xml(tmp_path / name)
        assert time.perf_counter() - t < 5 and "\n" not in str(e.value)
    with pytest.raises(AcamError, match="all microphones at one point"):
        ArrayGeometry(np.zeros((4, 3)))


# -- (c) the DualCam finder --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(numbers=st.sets(st.integers(0, 10**15) | st.integers(0, 6), min_size=1, max_size=5), data=st.data())
def test_dualcam_finder_with_sparse_huge_numbers_returns_within_a_second(numbers, data):
    drop_image = data.draw(st.sampled_from([None, *sorted(numbers)]), label="drop image")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d)
        for k in numbers:
            with open(src / f"A_{k:06d}.dc", "wb") as f:
                f.truncate(DC_BYTES)  # sparse
            if k != drop_image:
                (src / f"I_{k:06d}.bmp").write_bytes(b"")
        t = time.perf_counter()
        try:
            found, afiles, ifiles, layout = find_dualcam_frames(src)
        except AcamError as exc:
            assert "\n" not in str(exc)
        else:
            assert found == list(range(min(numbers), max(numbers) + 1)) and drop_image is None
            assert len(afiles) == len(ifiles) == len(found) and layout == "flat"
        assert time.perf_counter() - t < 1.0


# -- plain tests: the DualCam finder (item 4) and bounded simulation settings (item 5) ----------------
def test_a_dump_numbered_up_to_a_trillion_is_refused_at_once(tmp_path):
    for k in (0, 1, 2, 10**12):
        with open(tmp_path / f"A_{k:06d}.dc", "wb") as f:
            f.truncate(DC_BYTES)
        (tmp_path / f"I_{k:06d}.bmp").write_bytes(b"")
    t = time.perf_counter()
    with pytest.raises(AcamError, match=r"frame numbers jump from 2 to 1000000000000 \(A_000002\.dc -> A_1000000000000\.dc\)"):
        find_dualcam_frames(tmp_path)
    assert time.perf_counter() - t < 1.0
    (tmp_path / f"A_{'1' * 40}.dc").write_bytes(b"")
    with pytest.raises(AcamError, match=r"A_1{40}\.dc: expected a frame number of at most 18 digits, found 40 digits"):
        find_dualcam_frames(tmp_path)


def test_simulation_settings_are_bounded():
    from acoustic_camera.array.geometry import preset
    from acoustic_camera.sim.simulator import SimConfig
    from acoustic_camera.sim.trajectories import SourceSpec, make_trajectory

    g = preset("uma16")
    cases = [
        (dict(duration=1e9), "duration: expected a finite number > 0 s and <= 3600 s, found 1000000000.0"),
        (dict(duration=math.nan), "duration: expected"), (dict(duration=math.inf), "duration: expected"),
        (dict(duration="10"), "duration: expected"), (dict(sample_freq=1e12), "sample rate: expected at least 8000 Hz"),
        (dict(video_fps=math.nan), "video frame rate: expected"), (dict(video_fps=20000.0), "video frame rate"),
        (dict(seed=-1), "seed: expected"), (dict(seed=10**5000), "seed: expected"), (dict(hop=0), "hop: expected"),
        (dict(ism_order=1000), "image-source order"), (dict(truth_nfft=2**30), "truth window"),
        (dict(video_delay=math.nan), "video delay"), (dict(subject=-3), "subject: expected"),
        (dict(sources=(SourceSpec("clapping", position=(0.0, 0.0, 0.0)),)),
         "source 'clapping' position: expected a place in front of the array (z >= 0.1 m), found z = 0 m"),
        (dict(sources=(SourceSpec("clapping", position=(math.nan, 0.0, 2.0)),)), "source 'clapping' position: expected X,Y,Z"),
        (dict(sources=(SourceSpec("clapping", position=(1e400, 0.0, 2.0)),)), "source 'clapping' position"),
        (dict(sources=(SourceSpec("clapping", position=(0.0, 0.0, 5000.0)),)), "source 'clapping' position"),
        (dict(sources=(SourceSpec("clapping", "walk", speed=1e9),)), "source 'clapping' speed: expected"),
        (dict(sources=(SourceSpec("clapping", level_pa=math.inf),)), "source 'clapping' level at 1 m"),
        (dict(sources=(SourceSpec("clapping"),) * 65), "sources: expected at most 64"),
    ]
    for kw, where in cases:
        with pytest.raises(AcamError) as e:
            SimConfig(**{"geometry": g, **kw})
        assert where in str(e.value) and "\n" not in str(e.value), (kw, str(e.value))
    with pytest.raises(AcamError, match=r"position must be X,Y,Z in metres"):
        SourceSpec.parse("clapping@nan,0,2")
    with pytest.raises(AcamError, match=r"position must be X,Y,Z in metres"):
        SourceSpec.parse("clapping@" + "9" * 5000 + ",0,2")
    rng = np.random.default_rng(0)
    with pytest.raises(AcamError, match="duration: expected"):
        make_trajectory(SourceSpec("clapping", "walk"), Camera(), 1e9, rng)


def test_a_walk_that_cannot_advance_ends(monkeypatch):
    """A walk whose waypoints all coincide (no time passes between them) holds its place after at
    most 100 waypoints a second, instead of looping for ever."""
    from acoustic_camera.sim import trajectories
    from acoustic_camera.sim.trajectories import MAX_WAYPOINTS_PER_S, SourceSpec, make_trajectory

    monkeypatch.setattr(trajectories, "random_visible_point", lambda *a, **k: np.array([0.0, 0.0, 3.0]))
    t = time.perf_counter()
    tr = make_trajectory(SourceSpec("clapping", "walk"), Camera(), 60.0, np.random.default_rng(0))
    assert time.perf_counter() - t < 5 and len(tr.times) <= MAX_WAYPOINTS_PER_S * 61 + 2
    assert np.all(np.isfinite(tr.position(np.array([0.0, 30.0, 100.0]))))


def test_a_normal_walk_is_unchanged_by_the_bound():
    """The bound never shortens an ordinary walk: it still reaches past the session's end."""
    from acoustic_camera.sim.trajectories import SourceSpec, make_trajectory

    tr = make_trajectory(SourceSpec("clapping", "walk"), Camera(), 600.0, np.random.default_rng(3))
    assert tr.times[-1] >= 601.0 and len(tr.times) < 2000
