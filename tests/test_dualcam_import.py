"""DualCam import: synthetic dumps in the published format round-trip exactly; each defect gives
one clear error and leaves no output behind."""

import hashlib
import json

import cv2
import h5py
import numpy as np
import pytest
from scipy.io import savemat

from acoustic_camera import AcamError, open_session
from acoustic_camera.io.dualcam import DC_BYTES, import_dualcam, import_dualcam_mfcc

M, S = 128, 1024


def expected_audio(k):
    """(1024, 128) samples of frame k: channel c, sample n = c*100000 + k*1024 + n (< 2**24)."""
    c = np.arange(M)[None, :]
    n = np.arange(S)[:, None]
    return c * 100000 + k * S + n


def picture(k, smooth=False):
    """640x480 RGB picture of frame k; R, G and B differ so a channel swap shows."""
    y, x = np.mgrid[0:480, 0:640]
    if smooth:  # JPEG-friendly
        rgb = np.stack([x * 255 // 639, y * 255 // 479, np.full_like(x, 20 * k)], -1)
    else:
        rgb = np.stack([np.full_like(x, k), x % 256, (y * 3 + k) % 256], -1)
    return rgb.astype(np.uint8)


def make_dump(root, n=14, first=0, ext="bmp", subfolders=False):
    adir = root / "audio" if subfolders else root
    vdir = root / "video" if subfolders else root
    adir.mkdir(parents=True, exist_ok=True)
    vdir.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        num = first + k
        raw = expected_audio(k).T  # (128, 1024): row = microphone
        raw.astype("<i4").ravel(order="F").tofile(adir / f"A_{num:06d}.dc")
        img = picture(k, smooth=(ext != "bmp"))
        assert cv2.imwrite(str(vdir / f"I_{num:06d}.{ext}"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def leftovers(tmp_path):
    return sorted(p.name for p in tmp_path.rglob("*.h5*"))


def test_dc_format_matches_reference_reader(tmp_path):
    make_dump(tmp_path, n=1)
    f = tmp_path / "A_000000.dc"
    assert f.stat().st_size == DC_BYTES == 524288
    raw = np.fromfile(f, "<i4").reshape((128, 1024), order="F")
    np.testing.assert_array_equal(raw[5], 500000 + np.arange(1024))


def test_import_bmp_flat_round_trip(tmp_path):
    src = make_dump(tmp_path / "dump", n=14)
    out = tmp_path / "s.h5"
    calls = []
    r = import_dualcam(src, out, progress=lambda d, t: calls.append((d, t)),
                       metadata={"label": "clapping", "subject": "s3", "scenario": "anechoic"})
    assert r["frames"] == 14 and r["samples"] == 14 * 1024 and r["sample_freq"] == 12288
    assert r["bad_mics"] == [79, 105] and r["layout"] == "flat" and r["image_formats"] == ["bmp"]
    assert r["exact_float32"] and r["max_abs_count"] == int(expected_audio(13).max())
    assert calls[-1] == (14, 14) and len(calls) == 14
    assert leftovers(tmp_path) == ["s.h5"]
    with open_session(out) as s:
        assert s.closed_cleanly and s.sample_freq == 12288 and s.video_fps == 12
        assert s.n_samples == 14 * 1024 and s.n_channels == 128
        want = np.concatenate([expected_audio(k) for k in range(14)]).astype(np.float32)
        assert s.file["time_data"].dtype == np.float32
        np.testing.assert_array_equal(s.audio(), want)
        np.testing.assert_array_equal(s.frame_sample_index, np.arange(14) * 1024 + 512)  # block centres
        assert np.flatnonzero(s.geometry.bad).tolist() == [79, 105]
        assert s.geometry.name == "dualcam128"
        assert (s.camera.width, s.camera.height) == (640, 480)
        for k in (0, 6, 13):
            np.testing.assert_array_equal(s.frame(k), picture(k))
        md = s.metadata
        assert md["device"] == "DualCam (imported)" and md["units"] == "raw int32 counts"
        assert (md["label"], md["subject"], md["scenario"]) == ("clapping", "s3", "anechoic")
        assert md["first_frame_number"] == 0


def test_import_jpeg_subfolders_numbered_from_one(tmp_path):
    src = make_dump(tmp_path / "dump", n=4, first=1, ext="jpeg", subfolders=True)
    out = tmp_path / "s.h5"
    r = import_dualcam(src, out, broken_mics=(3,))
    assert r["layout"] == "audio/ + video/" and r["first_frame_number"] == 1 and r["image_formats"] == ["jpeg"]
    with open_session(out) as s:
        np.testing.assert_array_equal(s.frame_sample_index, np.arange(4) * 1024 + 512)
        np.testing.assert_array_equal(s.audio(1024, 2048), expected_audio(1).astype(np.float32))
        assert np.flatnonzero(s.geometry.bad).tolist() == [3]
        for k in range(4):
            diff = np.abs(s.frame(k).astype(int) - picture(k, smooth=True).astype(int))
            assert diff.mean() < 2 and diff.max() < 40


def test_import_jpg_extension_and_overwrite(tmp_path):
    src = make_dump(tmp_path / "dump", n=2, ext="jpg")
    out = tmp_path / "s.h5"
    out.write_bytes(b"keep me")
    with pytest.raises(AcamError, match="file exists"):
        import_dualcam(src, out)
    assert out.read_bytes() == b"keep me"
    import_dualcam(src, out, overwrite=True, broken_mics=())
    with open_session(out) as s:
        assert s.n_frames == 2 and not s.geometry.bad.any()


def _break(tmp_path, how):
    src = make_dump(tmp_path / "dump", n=5)
    if how == "missing image":
        (src / "I_000002.bmp").unlink()
        return src, r"I_000002\.bmp missing for A_000002\.dc"
    if how == "missing audio":
        (src / "A_000003.dc").unlink()
        return src, r"A_000003\.dc missing for I_000003\.bmp"
    if how == "jump":
        (src / "A_000002.dc").unlink()
        (src / "I_000002.bmp").unlink()
        (src / "A_000003.dc").unlink()
        (src / "I_000003.bmp").unlink()
        return src, "frame numbers jump from 1 to 4"
    if how == "extra image":
        cv2.imwrite(str(src / "I_000005.bmp"), picture(0))
        return src, r"A_000005\.dc missing for I_000005\.bmp"
    if how == "short dc":
        with open(src / "A_000004.dc", "r+b") as f:
            f.truncate(DC_BYTES - 4)
        return src, r"A_000004\.dc: 524284 bytes, expected 524288"
    if how == "no files":
        for p in src.glob("A_*.dc"):
            p.unlink()
        return src, r"no A_\*\.dc files"
    if how == "no folder":
        return tmp_path / "nowhere", "no such directory"
    if how == "image size":
        cv2.imwrite(str(src / "I_000003.bmp"), picture(0)[:240, :320])
        return src, r"I_000003\.bmp: image is 320x240, expected 640x480"
    if how == "unreadable image":
        (src / "I_000004.bmp").write_bytes(b"not an image")
        return src, r"I_000004\.bmp: not a readable image"
    if how == "two images":
        cv2.imwrite(str(src / "I_000001.jpeg"), picture(1))
        return src, "frame 1 has more than one image"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing image", "missing audio", "jump", "extra image", "short dc", "no files",
                                 "no folder", "image size", "unreadable image", "two images"])
def test_import_errors_leave_nothing(tmp_path, how):
    src, pattern = _break(tmp_path, how)
    out = tmp_path / "s.h5"
    with pytest.raises(AcamError, match=pattern) as ei:
        import_dualcam(src, out)
    assert "\n" not in str(ei.value)
    assert leftovers(tmp_path) == []


def test_wrong_geometry_size(tmp_path, small_geometry):
    src = make_dump(tmp_path / "dump", n=1)
    with pytest.raises(AcamError, match="32 microphones, expected 128"):
        import_dualcam(src, tmp_path / "s.h5", geometry=small_geometry, broken_mics=())


# -- MFCC_Image import ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def session5(tmp_path_factory):
    root = tmp_path_factory.mktemp("mfcc")
    src = make_dump(root / "dump", n=5)
    out = root / "s.h5"
    import_dualcam(src, out)
    return out


def mfcc_values(k, depth=12):
    rng = np.random.default_rng(k)
    return rng.standard_normal((36, 48, depth))  # float64, as MATLAB stores by default


def write_mats(folder, n, first=0, depths=None):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        d = (depths or {}).get(k, 12)
        savemat(folder / f"Data_{first + k}.mat", {"MFCC": mfcc_values(k, d)})


def test_mfcc_import(tmp_path, session5):
    write_mats(tmp_path / "rec" / "MFCC_Image", 5, first=0, depths={2: 8, 4: 1})
    out = tmp_path / "s.acoustic.h5"
    r = import_dualcam_mfcc(tmp_path / "rec", session5, out)
    assert r["frames"] == 5 and r["first_index"] == 0 and r["padded_frames"] == 2
    assert leftovers(tmp_path) == ["s.acoustic.h5"]
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] == 1 and f.attrs["acam_schema"] == "acam-acoustic"
        assert f.attrs["acam_schema_version"] == 1
        params = json.loads(f.attrs["params_json"])
        assert params["source"] == "DualCam MFCC_Image import" and params["first_index"] == 0
        m = f["mfcc"]
        assert m.shape == (5, 36, 48, 12) and m.dtype == np.float32
        np.testing.assert_array_equal(m[0], mfcc_values(0).astype(np.float32))
        np.testing.assert_array_equal(m[2][:, :, :4], 0)  # depth 8: four zeros in front
        np.testing.assert_array_equal(m[2][:, :, 4:], mfcc_values(2, 8).astype(np.float32))
        np.testing.assert_array_equal(m[4][:, :, :11], 0)
        np.testing.assert_array_equal(m[4][:, :, 11], mfcc_values(4, 1)[:, :, 0].astype(np.float32))
        np.testing.assert_array_equal(f["frame_sample_index"][()], np.arange(5) * 1024 + 512)
        np.testing.assert_allclose(f["frame_time"][()], (np.arange(5) * 1024 + 512) / 12288)
        np.testing.assert_array_equal(f["coverage"][()], np.ones(5))
        np.testing.assert_allclose(f["frequencies"][()], np.arange(512) * 12.0)
        assert f["grid/pixels"].shape == (36, 48, 2) and f["grid/directions"].shape == (36, 48, 3)
        with h5py.File(session5, "r") as sf:
            digest = hashlib.sha256(sf["time_data"][()].tobytes()).hexdigest()
        assert f.attrs["session_time_data_sha256"] == digest
        assert f.attrs["session_path"] == str(session5.resolve())


def test_mfcc_import_one_based_folder_given_directly(tmp_path, session5):
    write_mats(tmp_path / "MFCC_Image", 5, first=1)
    out = tmp_path / "a.h5"
    r = import_dualcam_mfcc(tmp_path / "MFCC_Image", session5, out)
    assert r["first_index"] == 1
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["mfcc"][3], mfcc_values(3).astype(np.float32))


@pytest.mark.parametrize("case", ["missing", "surplus", "none", "bad shape", "no key"])
def test_mfcc_import_errors(tmp_path, session5, case):
    d = tmp_path / "MFCC_Image"
    write_mats(d, 5)
    pattern = {"missing": r"Data_3\.mat missing", "surplus": r"6 Data_\*\.mat files but the session has 5 frames",
               "none": r"no Data_\*\.mat files", "bad shape": r"Data_1\.mat: 'MFCC' has shape \(36, 48, 13\)",
               "no key": r"Data_4\.mat: no variable 'MFCC' \(found: X\)"}[case]
    if case == "missing":
        (d / "Data_3.mat").unlink()
    elif case == "surplus":
        savemat(d / "Data_5.mat", {"MFCC": mfcc_values(5)})
    elif case == "none":
        for p in d.glob("*.mat"):
            p.unlink()
    elif case == "bad shape":
        savemat(d / "Data_1.mat", {"MFCC": np.zeros((36, 48, 13))})
    elif case == "no key":
        savemat(d / "Data_4.mat", {"X": np.zeros((36, 48, 12))})
    out = tmp_path / "a.h5"
    with pytest.raises(AcamError, match=pattern):
        import_dualcam_mfcc(tmp_path, session5, out)
    assert leftovers(tmp_path) == []
