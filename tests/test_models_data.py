"""Model data: clips aligned on the audio clock, block splits without leakage, training-only stats."""

import numpy as np
import pytest

from acoustic_camera.beamform.pipeline import beamform_session
from acoustic_camera.models.data import (
    ClipDataset, class_names, hearnet_spectrogram, index_clips, mfcc_stats, resample_to, soundnet_scale,
    split_blocks, split_scenarios,
)
from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
from acoustic_camera.sim.trajectories import SourceSpec
from acoustic_camera import preset


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    d = tmp_path_factory.mktemp("mdata")
    pairs = []
    for i, (label, scen) in enumerate((("clapping", "anechoic"), ("whistling", "anechoic"), ("clapping", "indoor"))):
        s = d / f"s{i}.h5"
        simulate_to_file(SimConfig(scenario=scen, duration=4.0, seed=i, geometry=preset("uma16"),
                                   sources=(SourceSpec(label),)), s)
        a = d / f"s{i}.acoustic.h5"
        beamform_session(s, a, features=("mfcc",), backend="numba")
        pairs.append((s, a))
    return pairs


def test_clips_blocks_and_splits(sessions):
    clips = index_clips(sessions, clip_frames=12, block_seconds=1.0)
    assert len(clips) == 3 * 4 and all(c.frames == 12 for c in clips)
    assert class_names(clips) == ["clapping", "whistling"]
    sp = split_blocks(clips, seed=42)
    assert sum(map(len, sp.values())) == len(clips)
    units = {k: {(c.session, c.block) for c in v} for k, v in sp.items()}
    assert not (units["train"] & units["test"]) and not (units["train"] & units["validation"])
    assert split_blocks(clips, seed=42) == sp and split_blocks(clips, seed=1) != sp
    cross = split_scenarios(clips, "anechoic", "indoor")
    assert {c.scenario for c in cross["train"] + cross["validation"]} == {"anechoic"}
    assert {c.scenario for c in cross["test"]} == {"indoor"}


def test_items_are_aligned_and_normalised_with_training_stats(sessions):
    import h5py

    clips = index_clips(sessions, clip_frames=12, block_seconds=1.0)
    sp = split_blocks(clips)
    stats = mfcc_stats(sp["train"])
    # the statistics, computed here straight from the files over the training clips' frames only
    frames = np.concatenate([h5py.File(c.acoustic)["mfcc"][c.start:c.start + c.frames] for c in sp["train"]]).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], frames.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats["std"], frames.std(axis=(0, 1, 2)), rtol=1e-4)
    every = mfcc_stats(clips)
    assert not np.allclose(every["mean"], stats["mean"], rtol=1e-3)  # the held-out clips were left out
    ds = ClipDataset(clips, class_names(clips), stats, video=True)
    i = clips.index(sp["test"][0])
    item, c = ds[i], clips[i]
    with h5py.File(c.acoustic) as fa, h5py.File(c.session) as fs:
        raw = fa["mfcc"][c.start:c.start + 12]
        fsi = fs["video/sample_index"][()]
        mic0 = fs["time_data"][fsi[c.start]:fsi[c.start + 12] if c.start + 12 < len(fsi) else None, 0]
        video = fs["video/frames"][c.start:c.start + 12]
    # a test clip is normalised with the training statistics, coefficient-major
    np.testing.assert_allclose(item["mfcc"], ((raw - stats["mean"]) / stats["std"]).transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
    assert item["mfcc"].shape == (12, 12, 36, 48) and item["mfcc"].dtype == np.float32
    # its audio is microphone 0 over exactly its frames, at 22,050 Hz
    assert item["audio"].shape == (22050,)
    # (cut from the session's microphone resampled whole, so it equals the clip resampled alone but
    # for the filter's edge effects in its first and last ~0.1 s; the clip starts on a whole second)
    with h5py.File(c.session) as fs:
        whole = resample_to(fs["time_data"][:, 0], 12000)
    i0 = fsi[c.start] * 147 // 80
    np.testing.assert_array_equal(item["audio"], whole[i0:i0 + 22050])
    alone = resample_to(mic0, 12000)
    np.testing.assert_allclose(item["audio"][2000:-2000], alone[2000:-2000], atol=1e-3 * np.abs(alone).max())
    np.testing.assert_array_equal(item["video"], video)
    assert item["label"] == class_names(clips).index(c.label)


def test_sessions_at_another_frame_rate_are_refused(tmp_path):
    from acoustic_camera import AcamError

    s = tmp_path / "s30.h5"
    simulate_to_file(SimConfig(duration=1.0, video_fps=30, geometry=preset("uma16")), s)
    beamform_session(s, features=("mfcc",), backend="numba")
    with pytest.raises(AcamError, match="video_fps: expected 12 .*found 30"):
        index_clips([(s, tmp_path / "s30.acoustic.h5")])


def test_student_inputs():
    t = np.arange(5 * 12000) / 12000
    x = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    y = resample_to(x, 12000)
    assert y.shape == (110250,)
    spec = hearnet_spectrogram(y)
    assert spec.shape == (500, 257)
    k = int(np.argmax(spec.mean(0)))
    assert abs(k * 22050 / 512 - 1000) < 22050 / 512
    assert np.abs(soundnet_scale(y)).max() == pytest.approx(256)
    assert resample_to(np.zeros(12288), 12288).shape == (22050,)


def test_teacher_and_student_clips_split_their_sessions_alike(tmp_path):
    """Sessions whose last 10-s block is shorter than a 5-s student clip (here 12.5 s): split over
    the sessions' blocks, 1-s teacher clips and 5-s student clips land each block in the same
    part; split over the blocks that hold clips (the old way), the shuffles differed."""
    from acoustic_camera.models.data import session_blocks

    from acoustic_camera import Camera
    from acoustic_camera.constants import CAMERA_FOCAL_PX

    # a 160x120 camera: the pictures play no part here, and drawing 640x480 ones was 6x the simulation
    small = Camera(width=160, height=120, fx=CAMERA_FOCAL_PX / 4, fy=CAMERA_FOCAL_PX / 4, cx=79.5, cy=59.5)
    pairs = []
    for i in range(8):
        s = tmp_path / f"s{i}.h5"
        simulate_to_file(SimConfig(duration=12.5, seed=i, geometry=preset("uma16"), noise=False, camera=small,
                                   sources=(SourceSpec(("clapping", "whistling")[i % 2]),)), s)
        a = tmp_path / f"s{i}.acoustic.h5"
        beamform_session(s, a, features=("mfcc",), backend="numba")
        pairs.append((s, a))
    teacher = index_clips(pairs, clip_frames=12)
    student = index_clips(pairs, clip_frames=60, hop_frames=12)
    assert {c.block for c in teacher} == {0, 1} and {c.block for c in student} == {0}

    def parts(clips, units):
        return {(c.session, c.block): k for k, v in split_blocks(clips, seed=42, units=units).items() for c in v}

    blocks = session_blocks(pairs)
    assert len(blocks) == 16 and set(blocks.values()) == {"anechoic"}
    t, s = parts(teacher, blocks), parts(student, blocks)
    assert all(t[u] == s[u] for u in s)
    old_t, old_s = parts(teacher, None), parts(student, None)
    assert any(old_t[u] != old_s[u] for u in old_s)  # what the leak was


def test_a_cross_scenario_run_on_its_own_scenario_tests_on_its_held_out_split(sessions):
    clips = index_clips(sessions, clip_frames=12, block_seconds=1.0)
    same = split_scenarios(clips, "anechoic", "anechoic")
    units = {k: {(c.session, c.block) for c in v} for k, v in same.items()}
    assert units["test"] and not (units["test"] & (units["train"] | units["validation"]))


def test_an_epoch_draws_its_crops_from_every_block():
    """``crops`` clips of each (session, 10-s block) per epoch, distinct, at random, a new draw
    each epoch; a block with fewer clips gives them all; 0 keeps every clip."""
    pytest.importorskip("torch")
    from acoustic_camera.models.data import Clip
    from acoustic_camera.models.train import epoch_clips

    clips = [Clip(f"s{s}", "", b * 120 + 12 * k, 60, "x", "anechoic", "1", b)
             for s in range(3) for b in range(4) for k in range(6 if b < 3 else 2)]
    rng = np.random.default_rng(0)
    assert epoch_clips(clips, 0, rng) is None
    draws = []
    for _ in range(4):
        order = epoch_clips(clips, 2, rng)
        assert len(order) == len(set(order.tolist())) == 3 * (3 * 2 + 2)
        per_block = {}
        for i in order:
            per_block.setdefault((clips[i].session, clips[i].block), []).append(i)
        assert len(per_block) == 12 and all(len(v) == 2 for v in per_block.values())
        draws.append(sorted(order.tolist()))
    assert len({tuple(d) for d in draws}) > 1  # not the same crops every epoch
    assert len(epoch_clips(clips, 6, rng)) == len(clips)


def test_a_training_batch_never_holds_a_single_clip():
    """Batch norm cannot train on one clip (SoundNet-5's conv5 leaves one value per channel): a
    last batch of one joins the one before in training; scoring keeps plain batches. (201
    training blocks at one crop each and batch 8 stopped the small preset's experiment.)"""
    pytest.importorskip("torch")
    from acoustic_camera.models.train import _batches

    rng = np.random.default_rng(0)
    sizes = [len(b) for b in _batches(201, 8, rng)]
    assert sizes[-1] == 9 and sum(sizes) == 201 and min(sizes) == 8
    assert [len(b) for b in _batches(17, 8, None)] == [8, 8, 1]
    assert [len(b) for b in _batches(1, 8, rng)] == [1] and [len(b) for b in _batches(16, 8, rng)] == [8, 8]
