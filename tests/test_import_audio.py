"""`acam import audio` on recordings written by outside writers (libsndfile through soundfile in
every format and subtype a recorder uses, scipy's WAV writer, Acoular's WriteH5 and WriteWAV):
the imported samples equal the file's, sample-exact; an Acoular-simulated source beamforms to
its cell; a photo or a video becomes the frames; bad input is one line and no file."""

from pathlib import Path

import numpy as np
import pytest

from acoustic_camera import open_session, preset
from acoustic_camera.errors import AcamError
from acoustic_camera.io.import_audio import import_audio

FS = 48000


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(4)
    return (0.25 * rng.standard_normal((FS // 2, 16))).astype(np.float32)


def _imported(path, tmp_path, **kw):
    out = tmp_path / f"{Path(path[0] if isinstance(path, list) else path).stem}.h5"
    kw.setdefault("geometry", preset("uma16"))
    kw.setdefault("overwrite", True)
    r = import_audio([path] if not isinstance(path, list) else path, out, **kw)
    with open_session(out) as s:
        return r, s.audio(), s.sample_freq, s.n_frames, s.camera


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
                                         ("WAV", "DOUBLE"), ("WAVEX", "PCM_24"), ("RF64", "FLOAT"), ("W64", "PCM_24"),
                                         ("CAF", "PCM_24"), ("AIFF", "PCM_16")])
def test_every_libsndfile_format_imports_sample_exact(fmt, subtype, noise, tmp_path):
    import soundfile as sf

    p = tmp_path / f"rec.{fmt.lower()}"
    sf.write(p, noise, FS, format=fmt, subtype=subtype)
    expected = sf.read(p, dtype="float32", always_2d=True)[0]
    r, x, fs, n_frames, _ = _imported(p, tmp_path)
    assert fs == FS and np.array_equal(x, expected) and r["frames"] == n_frames == 6  # 0.5 s at 12 fps


def test_flac_with_picked_channels_and_scipy_wav(noise, tmp_path):
    import soundfile as sf
    from scipy.io import wavfile

    # FLAC holds at most 8 channels: two files of 8, channels picked and reordered onto the array
    p = tmp_path / "rec.flac"
    sf.write(p, noise[:, :8], FS, subtype="PCM_24")
    geo = preset("uma16")
    from acoustic_camera.array.geometry import ArrayGeometry

    eight = ArrayGeometry(geo.positions[:8], name="uma16-half")
    _, x, _, _, _ = _imported(p, tmp_path, geometry=eight, channels="7-0")
    assert np.array_equal(x, sf.read(p, dtype="float32", always_2d=True)[0][:, ::-1])
    q = tmp_path / "scipy.wav"
    wavfile.write(q, FS, (noise * 20000).astype(np.int16))
    _, x, _, _, _ = _imported(q, tmp_path, channels="0-15")
    assert np.array_equal(x, (noise * 20000).astype(np.int16).astype(np.float32) / 32768)


def test_files_split_by_the_recorder_are_joined_sample_exact(noise, tmp_path):
    import soundfile as sf

    parts = [tmp_path / f"part{i}.wav" for i in range(3)]
    for i, p in enumerate(parts):
        sf.write(p, noise[i * 5000:(i + 1) * 5000 + (333 if i == 2 else 0)], FS, subtype="FLOAT")
    r, x, _, _, _ = _imported(parts, tmp_path)
    assert np.array_equal(x, noise[:15333]) and r["files"] == 3


def test_a_photo_and_a_video_become_the_frames(noise, tmp_path):
    import cv2
    import soundfile as sf

    p = tmp_path / "rec.wav"
    sf.write(p, np.tile(noise, (4, 1)), FS, subtype="FLOAT")  # 2 s
    photo = np.zeros((240, 320, 3), np.uint8)
    photo[:, :160] = (200, 40, 40)
    cv2.imwrite(str(tmp_path / "photo.png"), photo[..., ::-1])
    _, _, _, n, cam = _imported(p, tmp_path, picture=tmp_path / "photo.png", fps=5)
    assert n == 10 and (cam.width, cam.height) == (320, 240)
    # a 25 fps video of 3 s with its frame number drawn as a grey level, started 0.5 s before the audio
    vid = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for k in range(75):
        w.write(np.full((120, 160, 3), 3 * k, np.uint8))
    w.release()
    out = tmp_path / "withvideo.h5"
    import_audio([p], out, geometry=preset("uma16"), video=vid, video_offset=-0.5)
    with open_session(out) as s:
        # frame k of the video is at 0.04 k - 0.5 s: those within [0, 2 s) of audio are kept
        assert s.n_frames == 50 and s.frame_sample_index[0] == 960  # the video's frame 13, at 0.02 s
        assert np.allclose(np.diff(s.frame_sample_index), FS / 25, atol=1)
        assert abs(int(s.frame(0).mean()) - 3 * 13) <= 3


def test_bad_input_is_one_line_and_leaves_no_file(noise, tmp_path):
    import soundfile as sf

    p = tmp_path / "rec.wav"
    sf.write(p, noise, FS, subtype="FLOAT")
    q = tmp_path / "other-rate.wav"
    sf.write(q, noise, 44100, subtype="FLOAT")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(p.read_bytes()[:30])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture")
    out = tmp_path / "x.h5"
    cases = [
        (dict(paths=[p], geometry=preset("dualcam128")), "the recording has 16 channels and the geometry 128"),
        (dict(paths=[p, q]), "expected 48000 Hz as rec.wav"),
        (dict(paths=[cut]), "expected a recording libsndfile reads"),
        (dict(paths=[p], channels="0-20"), "expected channels 0..15"),
        (dict(paths=[p], channels="0-7"), "expected 16 channels, one per microphone"),
        (dict(paths=[p], picture=junk), "cannot decode"),
        (dict(paths=[p], hfov=float("nan")), "--hfov"),
        (dict(paths=[tmp_path / "missing.wav"]), "no such file"),
    ]
    for kw, words in cases:
        paths = kw.pop("paths")
        kw.setdefault("geometry", preset("uma16"))
        with pytest.raises(AcamError) as e:
            import_audio(paths, out, **kw)
        msg = str(e.value)
        assert words in msg and "\n" not in msg, msg
        assert not out.exists() and not (tmp_path / "x.partial.h5").exists()


def test_an_acoular_simulated_source_beamforms_to_its_cell(tmp_path, acoular_here):
    """Acoular's own writers (WriteH5, WriteWAV) on its PointSource, on its shipped UMA-16 file at
    48 kHz: imported, beamformed, the peak within one cell of the source's pixel."""
    import os

    import acoular as ac

    from acoustic_camera.array.geometry import ArrayGeometry
    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.io.acoustic import open_acoustic

    xml = Path(os.path.dirname(ac.__file__)) / "xml" / "minidsp_uma-16.xml"
    mics = ac.MicGeom(file=str(xml))
    loc = (0.25, -0.15, 1.5)
    src = ac.PointSource(signal=ac.WNoiseGenerator(sample_freq=FS, num_samples=FS, seed=3), mics=mics, loc=loc)
    ac.WriteH5(source=src, file=str(tmp_path / "ac.h5")).save()
    ac.WriteWAV(source=src, file=str(tmp_path / "ac.wav"), channels=list(range(16)), encoding="int32").save()
    geo = ArrayGeometry.from_xml(xml)
    for name in ("ac.h5", "ac.wav"):
        out = tmp_path / f"{name}.session.h5"
        import_audio([tmp_path / name], out, geometry=geo)
        beamform_session(out, features=("energy",), band=(2000.0, 8000.0), grid=(18, 24), focus_distance=1.5,
                         backend="numpy")
        with open_session(out) as s, open_acoustic(out.with_name(out.stem + ".acoustic.h5")) as a:
            e = np.asarray(a.energy_db[:]).mean(0)
            r, c = np.unravel_index(np.argmax(e), e.shape)
            u, v = s.camera.project(np.array([loc]))[0][0]
            cell = a.grid.pixels[r, c]
            cw, ch = s.camera.width / 24, s.camera.height / 18
            assert abs(cell[0] - u) <= 1.5 * cw and abs(cell[1] - v) <= 1.5 * ch, (name, cell, (u, v))


def test_export_and_import_round_trip_and_maps_leave_with_their_grid(noise, tmp_path):
    import soundfile as sf

    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.io.acoustic import open_acoustic
    from acoustic_camera.io.export import export_maps, export_wav

    p = tmp_path / "rec.wav"
    sf.write(p, noise, FS, subtype="FLOAT")
    s1 = tmp_path / "s1.h5"
    import_audio([p], s1, geometry=preset("uma16"))
    export_wav(s1, tmp_path / "back.wav")
    assert np.array_equal(sf.read(tmp_path / "back.wav", dtype="float32")[0], noise)  # float32: sample-exact
    export_wav(s1, tmp_path / "two.wav", channels=[3, 1], subtype="pcm24")
    back, want = sf.read(tmp_path / "two.wav", dtype="float32")[0], noise[:, [3, 1]]
    inside = np.abs(want) < 0.999  # 24-bit is full scale +-1: beyond it clipped (and said)
    assert np.allclose(back[inside], want[inside], rtol=0, atol=2**-23) and np.all(np.abs(back[~inside]) >= 0.999)
    beamform_session(s1, features=("energy",), grid=(6, 8), backend="numpy")
    export_maps(tmp_path / "s1.acoustic.h5", tmp_path / "m.npz")
    export_maps(tmp_path / "s1.acoustic.h5", tmp_path / "m.csv")
    with open_acoustic(tmp_path / "s1.acoustic.h5") as a, np.load(tmp_path / "m.npz") as z:
        assert np.array_equal(z["energy_db"], a.energy_db[:]) and np.array_equal(z["pixels"], a.grid.pixels)
        table = np.loadtxt(tmp_path / "m.csv", delimiter=",", skiprows=1)
        assert table.shape == (a.n_frames * 48, 7) and np.allclose(table[:, 6], np.asarray(a.energy_db[:]).ravel(), atol=1e-3)
    with pytest.raises(AcamError, match="ending in .npz or .csv"):
        export_maps(tmp_path / "s1.acoustic.h5", tmp_path / "m.txt")


def test_a_sensitivity_makes_the_levels_physical(tmp_path):
    """A 94 dB SPL (1 Pa RMS) 1 kHz tone recorded by MEMS microphones of -26 dBFS sensitivity:
    imported with --sensitivity -26dBFS it is 1 Pa RMS again (94.0 dB SPL); per-microphone
    values and volts (mV/Pa) too; a sensitivity of 0 or NaN is one line."""
    import soundfile as sf

    t = np.arange(FS) / FS
    pa = np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)  # 1 Pa RMS
    fs_units = (pa * 10 ** (-26 / 20))[:, None].repeat(16, 1)
    p = tmp_path / "tone.wav"
    sf.write(p, fs_units, FS, subtype="PCM_24")
    _, x, _, _, _ = _imported(p, tmp_path, sensitivity="-26dBFS")
    spl = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=0)) / 20e-6)
    assert np.all(np.abs(spl - 93.98) < 0.01), spl
    per_mic = ",".join(["-26dBFS"] * 15 + ["-20dBFS"])
    _, x, _, _, _ = _imported(p, tmp_path, sensitivity=per_mic)
    assert abs(20 * np.log10(np.std(x[:, 15]) / np.std(x[:, 0])) + 6) < 0.01  # a 6 dB hotter mic read 6 dB lower
    volts = tmp_path / "volts.wav"
    sf.write(volts, (pa * 0.012)[:, None].repeat(16, 1), FS, subtype="FLOAT")
    _, x, _, _, _ = _imported(volts, tmp_path, sensitivity="12mV/Pa")
    assert np.allclose(np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=0)), 1.0, rtol=1e-4)
    for bad in ("0mV/Pa", "nanV/Pa", "-26", "-26dBFS,-20dBFS"):
        with pytest.raises(AcamError, match="--sensitivity"):
            import_audio([p], tmp_path / "bad.h5", geometry=preset("uma16"), sensitivity=bad)
        assert not (tmp_path / "bad.h5").exists()


@pytest.fixture
def acoular_here(tmp_path):
    """Acoular, caching in the test's folder: by default it writes ./cache in the working tree."""
    import acoular as ac

    before = ac.config.cache_dir
    ac.config.cache_dir = str(tmp_path / "acoular-cache")
    yield ac
    ac.config.cache_dir = before


def _acoular_xml(name):
    import os

    import acoular as ac

    return Path(os.path.dirname(ac.__file__)) / "xml" / name


def test_the_mirrored_vendor_file_is_the_y_flip_of_the_other():
    """Acoular ships the UMA-16 twice (its issue #63): one file is the other mirrored top to
    bottom, which --flip-y undoes (a mirrored layout would show every source at its mirror image)."""
    from acoustic_camera.array.geometry import ArrayGeometry

    a = ArrayGeometry.from_xml(_acoular_xml("minidsp_uma-16.xml"))
    b = ArrayGeometry.from_xml(_acoular_xml("minidsp_uma-16_mirrored.xml"))
    flipped = b.mirrored_y().positions
    assert not np.allclose(a.positions, b.positions)
    assert sorted(map(tuple, np.round(flipped, 6))) == sorted(map(tuple, np.round(a.positions, 6)))


def test_a_moving_acoular_source_on_a_64_mic_array_at_51200_hz_is_followed(tmp_path, acoular_here):
    """Acoular's MovingPointSource on its Trajectory, its 64-microphone array at 51.2 kHz, written by
    WriteH5: imported and beamformed, the peak follows the source from left to right, each
    frame's peak within 1.5 cells of where the source was."""
    import acoular as ac

    from acoustic_camera.array.geometry import ArrayGeometry
    from acoustic_camera.beamform.pipeline import beamform_session
    from acoustic_camera.io.acoustic import open_acoustic

    fs, seconds, z = 51200, 1.0, 1.2
    xml = _acoular_xml("array_64.xml")
    mics = ac.MicGeom(file=str(xml))
    traj = ac.Trajectory(points={0.0: (-0.4, 0.1, z), seconds: (0.4, 0.1, z)})
    src = ac.MovingPointSource(signal=ac.WNoiseGenerator(sample_freq=fs, num_samples=int(fs * seconds), seed=2),
                               mics=mics, trajectory=traj, start=0.0)
    ac.WriteH5(source=src, file=str(tmp_path / "moving.h5")).save()
    out = tmp_path / "s.h5"
    import_audio([tmp_path / "moving.h5"], out, geometry=ArrayGeometry.from_xml(xml), hfov=90)
    beamform_session(out, features=("energy",), band=(2000.0, 10000.0), grid=(18, 24), focus_distance=z, nfft=2048,
                     backend="numpy")
    with open_session(out) as s, open_acoustic(tmp_path / "s.acoustic.h5") as a:
        e = np.asarray(a.energy_db[:])
        cw = s.camera.width / 24
        cols = []
        for k in range(1, s.n_frames - 1):  # the two end frames hang over the recording's ends
            t = s.frame_time[k]
            x = -0.4 + 0.8 * t / seconds
            u = s.camera.project(np.array([[x, 0.1, z]]))[0][0][0]
            r, c = np.unravel_index(np.argmax(e[k]), e[k].shape)
            assert abs(a.grid.pixels[r, c, 0] - u) <= 1.5 * cw, (k, a.grid.pixels[r, c, 0], u)
            cols.append(c)
        assert cols[-1] - cols[0] >= 6 and np.all(np.diff(cols) >= 0)
