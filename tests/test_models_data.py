"""Model data: clips aligned on the audio clock, block splits without leakage, training-only stats."""

import numpy as np
import pytest

from acoustic_camera.acoustic_file import beamform_session
from acoustic_camera.models.data import (
    ClipDataset, class_names, hearnet_spectrogram, index_clips, mfcc_stats, resample_to, soundnet_scale,
    split_blocks, split_scenarios,
)
from acoustic_camera.simulator import SimConfig, simulate_to_file
from acoustic_camera.trajectories import SourceSpec
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
    clips = index_clips(sessions, clip_frames=12, block_seconds=1.0)
    sp = split_blocks(clips)
    stats = mfcc_stats(sp["train"])
    ds = ClipDataset(clips, class_names(clips), stats, video=True)
    item = ds[1]
    assert item["mfcc"].shape == (12, 12, 36, 48) and item["mfcc"].dtype == np.float32
    assert item["audio"].shape == (22050,)  # 1 s of mic 0 at 22,050 Hz
    assert item["video"].shape == (12, 480, 640, 3) and item["label"] in (0, 1)
    all_train = np.concatenate([ClipDataset(sp["train"], class_names(clips), stats, audio=False)[i]["mfcc"].ravel()
                                for i in range(len(sp["train"]))])
    assert abs(all_train.mean()) < 0.05  # normalised with the training split's own statistics


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
