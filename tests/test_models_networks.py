"""Shapes, parameter counts, weight loading and preprocessing of acoustic_camera.models.networks."""

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from acoustic_camera.errors import AcamError  # noqa: E402
from acoustic_camera.models import networks as N  # noqa: E402

K = 14  # action classes


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(min(n, 2))
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def teacher():
    return N.ResNet50Teacher(K).eval()


def capture(model, names, *inputs):
    """Run model.forward and return {submodule name: output shape}."""
    shapes, hooks = {}, []
    for name in names:
        mod = model.get_submodule(name)
        hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape))))
    try:
        with torch.no_grad():
            out = model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return out, shapes


# --- parameter counts, by hand (weights + biases; BN: gamma + beta) -------------------------
HEAD_1024 = (1024 * 1000 + 1000) + (1000 * K + K)  # fc1 + fc2 = 1_039_014
DUALCAM_BACKBONE = (
    (12 * 12 * 7 + 12)  # conv1, Conv3d 12->12, kernel 7x1x1       =     1_020
    + (12 * 32 * 5 * 5 + 32)  # conv2 5x5 12->32                   =     9_632
    + (32 * 64 * 5 * 5 + 64)  # conv3 5x5 32->64                   =    51_264
    + (64 * 1024 * 9 * 12 + 1024)  # full1 9x12 64->1024           = 7_078_912
)
DUALCAM = DUALCAM_BACKBONE + HEAD_1024  # 8_179_842
HEARNET = (
    (257 * 128 * 11 + 128)  # conv1      361_984
    + (128 * 256 * 5 + 256)  # conv2      164_096
    + (256 * 256 * 3 + 256)  # conv3      196_864
    + (256 * 1024 * 4 + 1024)  # conv4  1_049_600
    + (1024 * 1024 + 1024)  # conv5     1_049_600
    + HEAD_1024
)  # 3_861_158
SOUNDNET5 = (
    (1 * 32 * 64 + 32) + 2 * 32  # conv1 + bn1
    + (32 * 64 * 32 + 64) + 2 * 64  # conv2 + bn2
    + (64 * 128 * 16 + 128) + 2 * 128  # conv3 + bn3
    + (128 * 256 * 8 + 256) + 2 * 256  # conv4 + bn4
    + (256 * 1024 * 16 + 1024) + 2 * 1024  # conv5 + bn5
    + (1024 * 1024 + 1024)  # conv6
    + HEAD_1024
)  # 6_748_230
RESNET50_BACKBONE = 25_557_032 - (2048 * 1000 + 1000)  # torchvision resnet50 minus its fc = 23_508_032
RESNET_TEACHER_FC = 2048 * K + K  # 28_686
AVNET_TRAINABLE = (2048 * 1024 + 1024) + DUALCAM_BACKBONE + (2048 * 1000 + 1000) + (1000 * K + K)
AVNET = RESNET50_BACKBONE + AVNET_TRAINABLE


def test_resnet50_count_is_torchvisions_and_the_published_one():
    """The hand counts lean on one figure taken from outside: ResNet-50's 25,557,032 parameters
    (He et al.; torchvision's model card). Checked against torchvision's own network."""
    import torchvision

    ref = torchvision.models.resnet50(weights=None)
    assert sum(p.numel() for p in ref.parameters()) == 25_557_032
    assert sum(p.numel() for n, p in ref.named_parameters() if not n.startswith("fc.")) == RESNET50_BACKBONE


def test_shared_head_init_and_shapes():
    head = N.SharedHead(1024, K)
    assert N.count_parameters(head) == HEAD_1024
    for fc in (head.fc1, head.fc2):
        w = fc.weight.detach()
        assert w.abs().max() <= 0.02 + 1e-7  # truncated at 2 std, as TF does
        assert 0.007 < w.std() < 0.0095  # std of N(0, 0.01) truncated at +-2 std is ~0.0088
        assert torch.count_nonzero(fc.bias) == 0
    assert head(torch.randn(2, 12, 1024)).shape == (2, 12, K)
    assert head(torch.randn(3, 1024)).shape == (3, K)


def test_dualcamnet_shapes_and_count():
    m = N.DualCamNet(K).eval()
    x = torch.randn(2, 12, 12, 36, 48)  # (batch, time, MFCC channels, H, W)
    out, s = capture(m, ["conv1", "pool2", "pool3", "full1"], x)
    assert out.shape == (2, 12, K)  # one prediction per acoustic frame
    assert s["conv1"] == (2, 12, 12, 36, 48)  # Conv3d layout (B, C, T, H, W): time kept
    assert s["pool2"] == (24, 32, 18, 24)  # per frame: 36x48 -> 18x24
    assert s["pool3"] == (24, 64, 9, 12)  # -> 9x12
    assert s["full1"] == (24, 1024, 1, 1)  # 'valid' 9x12 -> 1x1
    assert m.embed(x).shape == (2, 12, 1024)
    assert N.count_parameters(m) == DUALCAM
    assert N.count_parameters(N.DualCamNet(None)) == DUALCAM_BACKBONE


def test_dualcamnet_temporal_receptive_field_and_dropout():
    m = N.DualCamNet(K, dropout=0.5).eval()
    x = torch.randn(1, 12, 12, 36, 48)
    x2 = x.clone()
    x2[:, 0] += 1.0
    with torch.no_grad():
        d = (m.embed(x2) - m.embed(x)).abs().amax(dim=-1)[0]
        assert torch.equal(m(x), m(x))  # eval: no dropout
    # kernel 7 with padding 3 over time: frame 0 reaches output frames 0..3 only
    assert (d[:4] > 0).all() and torch.count_nonzero(d[4:]) == 0
    m.train()
    with torch.no_grad():
        assert not torch.equal(m(x), m(x))  # dropout active in training
    with pytest.raises(ValueError, match="B, T, C, H, W"):
        m.embed(torch.randn(12, 12, 36, 48))


def test_hearnet_shapes_and_count():
    m = N.HearNet(K).eval()
    x = torch.rand(2, 500, 257)  # (batch, time frames, frequency bins)
    out, s = capture(m, ["pool1", "pool2", "pool3", "conv4", "conv5"], x)
    assert out.shape == (2, K)
    assert [s[k][2] for k in ("pool1", "pool2", "pool3", "conv4", "conv5")] == [100, 20, 4, 1, 1]
    assert s["pool3"] == (2, 256, 4) and s["conv5"] == (2, 1024, 1)
    assert m.embed(x).shape == (2, 1024)
    with torch.no_grad():  # the TF layout (B, 500, 1, 257) is accepted too
        assert torch.equal(m(x[:, :, None, :]), out)
    assert N.count_parameters(m) == HEARNET


def test_soundnet5_shapes_and_count():
    m = N.SoundNet5(K).eval()
    x = torch.randn(2, 110250) * 256  # 5 s at 22050 Hz, SoundNet scale
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "conv4", "conv5", "conv6"]
    out, s = capture(m, names, x)
    assert out.shape == (2, K)
    assert [s[k][2] for k in names] == [55126, 6890, 3446, 430, 216, 27, 14, 1, 1]
    assert [s[k][1] for k in ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6")] == [32, 64, 128, 256, 1024, 1024]
    assert m.embed(x).shape == (2, 1024)
    assert N.count_parameters(m) == SOUNDNET5


def test_soundnet_weight_loader(tmp_path):
    src, dst = N.SoundNet5(K), N.SoundNet5(K)
    with torch.no_grad():
        for bn in (src.bn1, src.bn2, src.bn3, src.bn4):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    path = tmp_path / "soundnet5.pt"
    torch.save(src.state_dict(), path)
    loaded = N.load_soundnet_weights(dst, path)
    assert {k.split(".")[0] for k in loaded} == {"conv1", "conv2", "conv3", "conv4", "bn1", "bn2", "bn3", "bn4"}
    sa, sb = src.state_dict(), dst.state_dict()
    for k in sa:
        layer = k.split(".")[0]
        if layer in {"conv1", "conv2", "conv3", "conv4", "bn1", "bn2", "bn3", "bn4"}:
            assert torch.equal(sa[k], sb[k]), k
    assert not torch.equal(sa["conv5.weight"], sb["conv5.weight"])  # conv5, conv6, head stay fresh

    def upto_conv4(m, x):
        for i in range(1, 5):
            x = torch.relu(getattr(m, f"bn{i}")(getattr(m, f"conv{i}")(x)))
            x = getattr(m, f"pool{i}")(x) if i <= 3 else x
        return x

    x = torch.randn(1, 1, 22050)
    with torch.no_grad():
        assert torch.equal(upto_conv4(src.eval(), x), upto_conv4(dst.eval(), x))

    # Torch7-shaped conv weights (out, in, k, 1) are accepted
    t7like = {k: (v[..., None] if k.startswith("conv") and k.endswith("weight") else v) for k, v in sa.items()}
    torch.save(t7like, tmp_path / "t7like.pt")
    N.load_soundnet_weights(N.SoundNet5(K), tmp_path / "t7like.pt")

    missing = tmp_path / "nope.pt"
    with pytest.raises(AcamError, match="nope.pt: no such weights file"):
        N.load_soundnet_weights(dst, missing)
    partial = {k: v for k, v in sa.items() if not k.startswith("conv3")}
    torch.save(partial, tmp_path / "partial.pt")
    with pytest.raises(AcamError, match=r"partial\.pt.*conv3\.weight"):
        N.load_soundnet_weights(dst, tmp_path / "partial.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(AcamError, match="junk.pt"):
        N.load_soundnet_weights(dst, tmp_path / "junk.pt")


def test_soundnet_t7_without_torchfile(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchfile", None)  # makes `import torchfile` fail
    path = tmp_path / "soundnet5_final.t7"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(AcamError, match=r"soundnet5_final\.t7.*torchfile"):
        N.load_soundnet_weights(N.SoundNet5(K), path)


def test_resnet_teacher_shapes_and_trainable(teacher):
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert teacher(x).shape == (1, K)
        assert teacher.embed(x).shape == (1, 2048)
    trainable = {n for n, p in teacher.named_parameters() if p.requires_grad}
    assert trainable == {"net.fc.weight", "net.fc.bias"}
    assert N.count_parameters(teacher) == RESNET50_BACKBONE + RESNET_TEACHER_FC
    assert N.count_parameters(teacher, trainable_only=True) == RESNET_TEACHER_FC
    teacher.train()
    assert not teacher.net.bn1.training and not teacher.net.layer4.training  # frozen BN statistics
    assert teacher.net.fc.training
    teacher.eval()


def test_resnet_teacher_weights_round_trip(tmp_path, teacher):
    path = tmp_path / "teacher.pt"
    torch.save(teacher.state_dict(), path)
    other = N.ResNet50Teacher(K, weights_path=path).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(teacher(x), other(x))
    assert N.count_parameters(other, trainable_only=True) == RESNET_TEACHER_FC

    # an ImageNet-style state_dict (1000-way fc): backbone loaded, our fc kept fresh
    imagenet = {k: v for k, v in teacher.net.state_dict().items() if not k.startswith("fc.")}
    imagenet["fc.weight"], imagenet["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(imagenet, tmp_path / "imagenet.pt")
    third = N.ResNet50Teacher(K, weights_path=tmp_path / "imagenet.pt").eval()
    with torch.no_grad():
        assert torch.equal(third.embed(x), teacher.embed(x))
    assert third.net.fc.weight.shape == (K, 2048)

    with pytest.raises(AcamError, match="missing_resnet.pt: no such weights file"):
        N.ResNet50Teacher(K, weights_path=tmp_path / "missing_resnet.pt")
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "wrong.pt")
    with pytest.raises(AcamError, match="wrong.pt"):
        teacher.load_weights(tmp_path / "wrong.pt")


def test_preprocess_constant_and_crop():
    frames = np.full((2, 480, 640, 3), 128, np.uint8)
    out = N.preprocess(frames)
    assert out.shape == (2, 3, 224, 224) and out.dtype == torch.float32
    mean, std = np.array(N.IMAGENET_MEAN), np.array(N.IMAGENET_STD)
    expected = (128 / 255 - mean) / std  # ~(0.0741, 0.2052, 0.4265)
    np.testing.assert_allclose(out.mean(dim=(0, 2, 3)).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(out.std(dim=(0, 2, 3)).numpy(), 0, atol=1e-5)
    assert torch.equal(N.preprocess(torch.from_numpy(frames)), out)
    assert N.preprocess(frames[0]).shape == (1, 3, 224, 224)

    # central crop: left half black, right half white -> the edge lands in the crop's middle
    img = np.zeros((1, 480, 640, 3), np.uint8)
    img[..., 320:, :] = 255
    for side in (256, 224):
        row = N.preprocess(img, resize_side=side)[0, 0, 112]
        assert torch.allclose(row[:100], row[0]) and torch.allclose(row[124:], row[-1])
        assert row[0] < 0 < row[-1]
    with pytest.raises(ValueError, match="H, W, 3"):
        N.preprocess(np.zeros((2, 3, 224, 224), np.uint8))


def test_avnet_shapes_broadcast_and_counts():
    m = N.AVNet(K).eval()
    audio = torch.randn(1, 12, 12, 36, 48)
    frame = torch.randn(1, 3, 224, 224)
    video = frame[:, None].expand(1, 12, 3, 224, 224)
    with torch.no_grad():
        per_frame = m(audio, video)
        broadcast = m(audio, frame)
        fused = m.embed(audio, frame)
    assert per_frame.shape == (1, 12, K) and fused.shape == (1, 12, 2048)
    torch.testing.assert_close(per_frame, broadcast, rtol=1e-4, atol=1e-5)
    assert N.count_parameters(m) == AVNET
    assert N.count_parameters(m, trainable_only=True) == AVNET_TRAINABLE
    with pytest.raises(ValueError, match="do not match"):
        m.embed(audio, torch.randn(1, 5, 3, 224, 224))


def test_report_parameter_counts(teacher, capsys):
    counts = {
        "DualCamNet": N.count_parameters(N.DualCamNet(K)),
        "HearNet": N.count_parameters(N.HearNet(K)),
        "SoundNet5": N.count_parameters(N.SoundNet5(K)),
        "ResNet50Teacher": N.count_parameters(teacher),
        "ResNet50Teacher (trainable)": N.count_parameters(teacher, trainable_only=True),
    }
    av = N.AVNet(K)
    counts["AVNet"], counts["AVNet (trainable)"] = N.count_parameters(av), N.count_parameters(av, True)
    with capsys.disabled():
        print("\n" + "\n".join(f"  {k:28s} {v:>12,d}" for k, v in counts.items()))
    assert counts["DualCamNet"] == DUALCAM and counts["HearNet"] == HEARNET
