from pathlib import Path

import numpy as np
import pytest

from acoustic_camera import AcamError, ArrayGeometry, preset
from acoustic_camera.array.geometry import load_geometry


def test_xml_round_trip_keeps_positions_names_and_bad_mask(tmp_path):
    rng = np.random.default_rng(0)
    g = ArrayGeometry(rng.uniform(-0.2, 0.2, (10, 3)), tuple(f"ch{i}" for i in range(10)), np.arange(10) % 4 == 1, "t")
    g.to_xml(tmp_path / "g.xml", comment="made by a test -- with dashes")
    h = ArrayGeometry.from_xml(tmp_path / "g.xml")
    np.testing.assert_array_equal(h.positions, g.positions)  # repr() keeps every bit
    assert h.names == g.names and h.name == "t"
    np.testing.assert_array_equal(h.bad, g.bad)


def test_acoular_uma16_file_loads_unchanged_and_matches_preset():
    acoular = pytest.importorskip("acoular")
    path = Path(acoular.__file__).parent / "xml" / "minidsp_uma-16.xml"
    g = ArrayGeometry.from_xml(path)
    u = preset("uma16")
    np.testing.assert_allclose(g.positions, u.positions)
    assert g.n_mics == 16 and g.names[0] == "Point 1"
    # 4x4 at 42 mm pitch
    xs, ys = np.unique(u.positions[:, 0]), np.unique(u.positions[:, 1])
    np.testing.assert_allclose(np.diff(xs), 0.042)
    np.testing.assert_allclose(np.diff(ys), 0.042)


def test_acoular_reads_our_xml(tmp_path):
    acoular = pytest.importorskip("acoular")
    g = preset("dualcam128").with_bad([79, 105])
    g.to_xml(tmp_path / "d.xml")
    mg = acoular.MicGeom(file=str(tmp_path / "d.xml"))
    np.testing.assert_allclose(mg.pos.T, g.positions)


def test_presets_and_bad_mask():
    d = preset("dualcam128")
    assert d.n_mics == 128 and d.bad.sum() == 0
    assert np.all(np.abs(d.positions[:, :2]) <= 0.225 + 1e-9) and np.all(d.positions[:, 2] == 0)
    b = d.with_bad([79, 105])
    assert b.good.sum() == 126 and b.bad[79] and b.bad[105] and not d.bad[79]
    assert load_geometry("uma16").n_mics == 16
    with pytest.raises(AcamError, match="--geometry: expected a preset .* found 'nope'"):
        preset("nope")
    with pytest.raises(AcamError, match="out of range"):
        d.with_bad([128])


@pytest.mark.parametrize(
    "text, match",
    [
        ("<MicArray/>", "no <pos> elements"),
        ('<MicArray><pos Name="a" x="0" y="zz" z="0"/></MicArray>', "numeric x, y and z"),
        ("<MicArray><pos", "not a readable XML"),
    ],
)
def test_bad_xml_gives_clear_errors(tmp_path, text, match):
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(AcamError, match=match) as e:
        ArrayGeometry.from_xml(p)
    assert str(p) in str(e.value)


def test_missing_file_and_bad_shapes(tmp_path):
    with pytest.raises(AcamError, match="not found"):
        ArrayGeometry.from_xml(tmp_path / "none.xml")
    with pytest.raises(AcamError, match=r"shape \(M, 3\)"):
        ArrayGeometry(np.zeros((4, 2)))
    with pytest.raises(AcamError, match="names"):
        ArrayGeometry(np.zeros((2, 3)), ("a",))
