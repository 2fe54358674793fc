"""The computed-input cache (models.cache): entries equal the computation they stand for, a
remade session misses, and every kind of entry is found again by a later run."""

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from acoustic_camera.models.cache import SessionArrays, cache_root, session_id  # noqa: E402


def test_session_arrays_round_trip_and_a_remade_session_misses(tmp_path):
    session = tmp_path / "s.h5"
    session.write_bytes(b"x" * 10)
    store = SessionArrays(tmp_path / "c")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    store.put(session, "12_60", a)
    assert store.get(session, "12_60") is a  # in memory before any flush
    store.flush()
    again = SessionArrays(tmp_path / "c")
    np.testing.assert_array_equal(again.get(session, "12_60"), a)
    assert again.get(session, "0_60") is None
    before = session_id(session)
    session.write_bytes(b"y" * 11)  # remade: another size and time
    os.utime(session, ns=(1, 1))
    assert session_id(session) != before and SessionArrays(tmp_path / "c").get(session, "12_60") is None
    # no folder: memory only, nothing written
    mem = SessionArrays(None)
    mem.put(session, "k", a)
    mem.flush()
    assert mem.get(session, "k") is a
    assert cache_root([session], "none") is None and cache_root([session]) is None  # not in a dataset
    assert cache_root([session], str(tmp_path / "x")) == tmp_path / "x"


@pytest.mark.slow  # the models' dataset
def test_cached_microphone_teacher_outputs_and_frame_features_equal_the_computation(models_dataset, dualcamnet_teacher,
                                                                                   tmp_path):
    from acoustic_camera.io.session import open_session
    from acoustic_camera.models.data import ClipDataset, Files, index_clips, resample_to
    from acoustic_camera.models.inputs import FrameFeatures
    from acoustic_camera.models.networks import ResNet50Teacher
    from acoustic_camera.models.train import TeacherOutputs, load_teacher

    pairs = models_dataset["heldout"]
    clips = index_clips(pairs, clip_frames=60, hop_frames=12)
    classes = sorted({c.label for c in clips})
    root = tmp_path / "cache"
    disk = ClipDataset(clips, classes, audio=True, mfcc=True, files=Files(cache=root))
    mem = ClipDataset(clips, classes, audio=True, mfcc=True, files=Files())
    firsts = sorted({c.session: i for i, c in reversed(list(enumerate(clips)))}.values())  # one clip per session
    for i in firsts + [len(clips) - 1]:
        np.testing.assert_array_equal(disk[i]["audio"], mem[i]["audio"])
    assert len(list((root / "audio").glob("*.mic0.22050.npy"))) == 3
    # the whole-session resampling agrees with resampling the clip alone, but at the clip's edges
    c = clips[1]
    with open_session(c.session) as s:
        a, b = int(s.frame_sample_index[c.start]), int(s.frame_sample_index[c.start + c.frames])
        alone = resample_to(s.audio(a, b, channel=0), s.sample_freq)
    cut = mem[1]["audio"]
    assert cut.shape == alone.shape
    inner = slice(2000, -2000)
    assert np.abs(cut[inner] - alone[inner]).max() <= 1e-3 * np.abs(alone).max()

    # teacher outputs: computed in one batch, then all found on disk by a new reader
    teacher, tctx = load_teacher(dualcamnet_teacher[0], classes, torch.device("cpu"))
    items = [mem[i] for i in range(4)]
    first = TeacherOutputs(teacher, tctx, dualcamnet_teacher[0], root)(items)
    with torch.no_grad():
        direct = torch.cat([tctx_run(teacher, [it], tctx) for it in items])
    torch.testing.assert_close(first, direct, rtol=1e-5, atol=1e-5)
    later = TeacherOutputs(None, tctx, dualcamnet_teacher[0], root)  # no network: every entry must come from disk
    torch.testing.assert_close(later(items), first, rtol=0, atol=0)

    # frozen ResNet-50 features: the same backbone in a new reader finds them; another backbone does not
    torch.manual_seed(0)
    net = ResNet50Teacher(3)
    ff = FrameFeatures(net, image_size=64, files=Files(cache=root))
    sessions, frames = [str(c.session) for c in clips[:2]], np.array([[6, 18], [30, 42]])
    f1 = ff(sessions, frames)
    ff2 = FrameFeatures(net, image_size=64, files=Files(cache=root))
    ff2._embed = None  # would fail if it computed anything
    torch.testing.assert_close(ff2(sessions, frames), f1, rtol=0, atol=0)
    net.net.fc.weight.data += 1  # the head is not the backbone: same features, same entries
    assert FrameFeatures(net, 64, files=Files(cache=root)).disk().folder == ff.disk().folder
    net.net.conv1.weight.data += 1
    assert FrameFeatures(net, 64, files=Files(cache=root)).disk().folder != ff.disk().folder


def tctx_run(teacher, items, tctx):
    from acoustic_camera.models.inputs import run

    return run(teacher, items, tctx)
