"""Teacher and student networks of the WACV 2020 DualCam distillation paper, in PyTorch.

The definitions follow the paper ("Audio-visual model distillation using acoustic images") and
its public TensorFlow code (``afperezm/acoustic-images-distillation``); where the two disagree
the code wins, and the class docstring says so.

Inputs and ``forward`` outputs:

- ``DualCamNet``: MFCC acoustic images (B, T=12, C=12, 36, 48) -> logits per acoustic frame
  (B, T, n_classes).
- ``HearNet``: magnitude spectrogram (B, 500, 257) -> (B, n_classes).
- ``SoundNet5``: waveform (B, 110250), values in [-256, 256] -> (B, n_classes).
- ``ResNet50Teacher``: frames (B, 3, 224, 224) from ``preprocess`` -> (B, n_classes).
- ``AVNet``: acoustic images (B, 12, 12, 36, 48) and frames (B, 12, 3, 224, 224) or
  (B, 3, 224, 224) -> (B, 12, n_classes).

Every network has ``embed`` (same inputs as ``forward``): the feature that feeds its
classification head. The TF code writes the fully connected layers as 1x1 convolutions; here
they are ``nn.Linear`` over the channel axis, the same map with the same parameter count.

Nothing here downloads anything: pretrained weights come only from local files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import AcamError

EMBED_DIM = 1024
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _trunc_normal_(weight: torch.Tensor, std: float = 0.01) -> None:
    # TF's truncated_normal re-draws beyond 2 std; torch's a/b are absolute bounds.
    nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2 * std, b=2 * std)


def _xavier_init(module: nn.Module) -> None:
    """slim's default for conv layers: Xavier-uniform weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise AcamError(f"{path}: no such weights file")
    return path


def _load_state_dict_file(path: Path) -> dict:
    """A state_dict saved with ``torch.save`` (optionally wrapped as {'state_dict': ...})."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, non-torch files
        raise AcamError(f"{path}: not a readable torch state_dict file ({type(exc).__name__})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise AcamError(f"{path}: expected a state_dict (a mapping of names to tensors)")
    return obj


class SharedHead(nn.Module):
    """The modality-agnostic classifier ``shared_net``: fc1 (in_ch -> 1000, ReLU), fc2 (1000 -> n_classes).

    Input (..., in_ch), output (..., n_classes) logits (no softmax); any leading dims are kept.
    Weights are truncated-normal with std 0.01 (cut at 2 std), biases zero; no dropout (the
    original takes a ``keep_prob`` argument but never uses it).
    """

    def __init__(self, in_ch: int, n_classes: int, hidden: int = 1000):
        super().__init__()
        self.fc1 = nn.Linear(in_ch, hidden)
        self.fc2 = nn.Linear(hidden, n_classes)
        for fc in (self.fc1, self.fc2):
            _trunc_normal_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class DualCamNet(nn.Module):
    """Acoustic-image teacher (``dualcamnet_v2``), predicting one label per acoustic frame.

    Input (B, T, C, H, W) = (batch, 12 acoustic frames, 12 MFCC channels, 36, 48): one second of
    MFCC acoustic images at 12 frames/s. (The TFRecords store each frame as 36x48x12, channels
    last: permute (B, T, H, W, C) -> (B, T, C, H, W) before calling.) The original code always
    groups frames by 12, so a 5-s clip of 60 frames is fed as (5B, 12, ...); other T work here
    too, the temporal convolution keeps T.

    Layers (shapes per frame):

    - conv1: Conv3d 12 -> 12, kernel (7, 1, 1) over time only, padding (3, 0, 0), ReLU.
    - conv2: 5x5 12 -> 32 'same', ReLU, 2x2 max-pool: 36x48 -> 18x24.
    - conv3: 5x5 32 -> 64 'same', ReLU, 2x2 max-pool: 18x24 -> 9x12.
    - full1: 9x12 'valid' 64 -> 1024, ReLU: 9x12 -> 1x1, the 1024-d embedding.
    - dropout (p=``dropout``, active in training only), then ``SharedHead`` 1024 -> 1000 -> classes.

    ``forward(x)`` -> logits (B, T, n_classes); ``embed(x)`` -> (B, T, 1024) (no dropout).
    With ``n_classes=None`` there is no head and ``forward`` returns the embedding (this is how
    AVNet uses it). The paper mentions batch norm after conv2/conv3; the code has none, nor
    here. Conv layers use slim's Xavier-uniform init.
    """

    def __init__(self, n_classes: int | None, in_ch: int = 12, dropout: float = 0.5):
        super().__init__()
        self.conv1 = nn.Conv3d(in_ch, in_ch, kernel_size=(7, 1, 1), padding=(3, 0, 0))
        self.conv2 = nn.Conv2d(in_ch, 32, 5, padding=2)
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.pool3 = nn.MaxPool2d(2)
        self.full1 = nn.Conv2d(64, EMBED_DIM, (9, 12))
        _xavier_init(self)
        self.dropout = nn.Dropout(dropout)
        self.head = SharedHead(EMBED_DIM, n_classes) if n_classes is not None else None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"DualCamNet expects (B, T, C, H, W), got shape {tuple(x.shape)}")
        b, t, c, h, w = x.shape
        y = F.relu(self.conv1(x.transpose(1, 2)))  # Conv3d wants (B, C, T, H, W)
        y = y.transpose(1, 2).reshape(b * t, c, h, w)  # per-frame images
        y = self.pool2(F.relu(self.conv2(y)))
        y = self.pool3(F.relu(self.conv3(y)))
        y = F.relu(self.full1(y))  # (B*T, 1024, 1, 1)
        return y.reshape(b, t, EMBED_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embed(x)
        if self.head is None:
            return e
        return self.head(self.dropout(e))


class HearNet(nn.Module):
    """Spectrogram student (``hearnet``): 1-D convolutions over time, frequency bins as channels.

    Input (B, 500, 257) = (batch, time frames, frequency bins): |STFT| of 5 s at 22050 Hz with a
    440-sample window, 220 hop and 512-point FFT (the original layout (B, 500, 1, 257) is also
    accepted). Layers, with the time length for 500 frames:

    - conv1 128@11 'same' + ReLU, max-pool 5: 500 -> 100
    - conv2 256@5 'same' + ReLU, max-pool 5: 100 -> 20
    - conv3 256@3 'same' + ReLU, max-pool 5: 20 -> 4
    - conv4 1024@4 'valid' + ReLU: 4 -> 1
    - conv5 1024@1 + ReLU: the 1024-d embedding (averaged over time if longer inputs leave > 1 step)
    - ``SharedHead`` 1024 -> 1000 -> classes

    ``forward`` -> (B, n_classes); ``embed`` -> (B, 1024). The original's L2 weight decay (5e-4)
    belongs to the optimiser.
    """

    def __init__(self, n_classes: int, n_bins: int = 257):
        super().__init__()
        self.conv1 = nn.Conv1d(n_bins, 128, 11, padding=5)
        self.pool1 = nn.MaxPool1d(5)
        self.conv2 = nn.Conv1d(128, 256, 5, padding=2)
        self.pool2 = nn.MaxPool1d(5)
        self.conv3 = nn.Conv1d(256, 256, 3, padding=1)
        self.pool3 = nn.MaxPool1d(5)
        self.conv4 = nn.Conv1d(256, EMBED_DIM, 4)
        self.conv5 = nn.Conv1d(EMBED_DIM, EMBED_DIM, 1)
        _xavier_init(self)
        self.head = SharedHead(EMBED_DIM, n_classes)

    #: channels of the per-segment features (``features(x, segments=K)``): conv3, before its pool
    SEGMENT_DIM = 256

    def features(self, x: torch.Tensor, segments: int | None = None):
        """(embedding (B, 1024), per-segment features (B, K, 256) or None) in one pass.

        The segment features are conv3's output (20 steps for 5 s, before its pool) averaged over
        K equal spans of time: K = 5 gives one 256-d feature per second, for sequential hints.
        """
        if x.ndim == 4 and x.shape[2] == 1:
            x = x[:, :, 0]
        if x.ndim != 3:
            raise ValueError(f"HearNet expects (B, time, bins), got shape {tuple(x.shape)}")
        y = x.transpose(1, 2)  # (B, bins, time)
        y = self.pool1(F.relu(self.conv1(y)))
        y = self.pool2(F.relu(self.conv2(y)))
        y = F.relu(self.conv3(y))
        seg = F.adaptive_avg_pool1d(y, segments).transpose(1, 2) if segments else None
        y = self.pool3(y)
        y = F.relu(self.conv4(y))
        y = F.relu(self.conv5(y))  # (B, 1024, 1) for 500 frames
        return y.mean(dim=2), seg

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class SoundNet5(nn.Module):
    """Waveform student "OurSoundNet": SoundNet-5 layers 1-4, a new conv5/conv6 and the shared head.

    Input (B, 110250) or (B, 1, 110250): 5 s at 22050 Hz, scaled to [-256, 256] as SoundNet
    expects (the model does not rescale). Each conv has a bias and is followed by BatchNorm
    (with scale) and ReLU, except conv6 (ReLU only). Time lengths for 110250 samples:

    - conv1 32@64 stride 2 pad 32: 110250 -> 55126; max-pool 8 -> 6890
    - conv2 64@32 stride 2 pad 16: 6890 -> 3446; max-pool 8 -> 430
    - conv3 128@16 stride 2 pad 8: 430 -> 216; max-pool 8 -> 27
    - conv4 256@8 stride 2 pad 4: 27 -> 14
    - conv5 1024@16 stride 12 pad 4: 14 -> 1 (the TF code pads 4 here too; without it a
      16-tap kernel would not fit 14 steps)
    - conv6 1024@1 + ReLU: 1 step, the 1024-d embedding (averaged over time if > 1)
    - ``SharedHead`` 1024 -> 1000 -> classes

    Pools are 'valid' (floor). ``forward`` -> (B, n_classes); ``embed`` -> (B, 1024).
    Conv weights are truncated-normal std 0.01, biases zero (the original's SoundNet scope);
    layers 1-4 can be replaced by pretrained ones with ``load_soundnet_weights``.
    """

    SPEC = ((1, 32, 64, 32), (32, 64, 32, 16), (64, 128, 16, 8), (128, 256, 8, 4), (256, 1024, 16, 4))

    def __init__(self, n_classes: int):
        super().__init__()
        for i, (cin, cout, k, pad) in enumerate(self.SPEC, start=1):
            stride = 12 if i == 5 else 2
            setattr(self, f"conv{i}", nn.Conv1d(cin, cout, k, stride=stride, padding=pad))
            setattr(self, f"bn{i}", nn.BatchNorm1d(cout))
        self.pool1, self.pool2, self.pool3 = nn.MaxPool1d(8), nn.MaxPool1d(8), nn.MaxPool1d(8)
        self.conv6 = nn.Conv1d(EMBED_DIM, EMBED_DIM, 1)
        for i in range(1, 7):
            conv = getattr(self, f"conv{i}")
            _trunc_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.head = SharedHead(EMBED_DIM, n_classes)

    #: channels of the per-segment features (``features(x, segments=K)``): conv4's output
    SEGMENT_DIM = 256

    def features(self, x: torch.Tensor, segments: int | None = None):
        """(embedding (B, 1024), per-segment features (B, K, 256) or None) in one pass; the
        segments average conv4's output (14 steps for 5 s) over K equal spans of time."""
        if x.ndim == 2:
            x = x[:, None, :]
        if x.ndim != 3 or x.shape[1] != 1:
            raise ValueError(f"SoundNet5 expects (B, samples) or (B, 1, samples), got {tuple(x.shape)}")
        y, seg = x, None
        for i in range(1, 6):
            y = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(y)))
            if i <= 3:
                y = getattr(self, f"pool{i}")(y)
            if i == 4 and segments:
                seg = F.adaptive_avg_pool1d(y, segments).transpose(1, 2)
        y = F.relu(self.conv6(y))  # (B, 1024, 1) for 110250 samples
        return y.mean(dim=2), seg

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


# Torch7 soundnet5_final.t7: index in net.modules of conv1..conv4 and their batch norms.
_T7_INDEX = {1: (0, 1), 2: (4, 5), 3: (8, 9), 4: (12, 13)}


def _t7_state_dict(path: Path) -> dict:
    try:
        import torchfile
    except ImportError as exc:
        raise AcamError(
            f"{path}: reading a Torch7 .t7 file needs the 'torchfile' package (pip install "
            f"torchfile; {exc}); or convert it once to a .pt state_dict with keys conv1..conv4 / bn1..bn4"
        ) from None
    try:
        mods = torchfile.load(str(path))["modules"]
        sd = {}
        for i, (ci, bi) in _T7_INDEX.items():
            for name in ("weight", "bias"):
                sd[f"conv{i}.{name}"] = torch.as_tensor(np.array(mods[ci][name], dtype=np.float32))
            for name in ("weight", "bias", "running_mean", "running_var"):
                sd[f"bn{i}.{name}"] = torch.as_tensor(np.array(mods[bi][name], dtype=np.float32))
    except Exception as exc:
        raise AcamError(f"{path}: not a SoundNet-5 Torch7 model with conv/bn layers 1-4 ({type(exc).__name__}: {exc})") from None
    return sd


def load_soundnet_weights(model: SoundNet5, path) -> list[str]:
    """Copy pretrained SoundNet-5 layers 1-4 (conv1..conv4 and bn1..bn4) into ``model``.

    ``path`` is a local file: a torch state_dict (``.pt``/``.pth``, keys ``conv{i}.weight``,
    ``conv{i}.bias``, ``bn{i}.weight|bias|running_mean|running_var`` for i = 1..4; conv weights
    may be Torch7-shaped (out, in, k, 1)), or the original ``soundnet5_final.t7`` (needs the
    ``torchfile`` package). conv5, conv6 and the head keep their fresh init, as in the paper.
    Returns the names of the loaded tensors. Raises AcamError (missing or unreadable file, .t7
    without torchfile, missing keys, wrong shapes), naming the file. Nothing is downloaded.
    """
    path = _check_file(path)
    src = _t7_state_dict(path) if path.suffix.lower() == ".t7" else _load_state_dict_file(path)
    own = model.state_dict()
    wanted = [k for k in own if k.split(".")[0] in {f"{p}{i}" for p in ("conv", "bn") for i in range(1, 5)}]
    missing = [k for k in wanted if k not in src and not k.endswith("num_batches_tracked")]
    if missing:
        raise AcamError(f"{path}: missing SoundNet layers: {', '.join(missing)}")
    new = {}
    for k in wanted:
        if k not in src:
            continue
        t = src[k]
        if k.startswith("conv") and k.endswith("weight") and t.ndim == 4 and t.shape[-1] == 1:
            t = t[..., 0]
        t = t.reshape(-1) if own[k].ndim == 1 else t
        if tuple(t.shape) != tuple(own[k].shape):
            raise AcamError(f"{path}: {k}: expected shape {tuple(own[k].shape)}, found {tuple(t.shape)}")
        new[k] = t.to(own[k].dtype)
    model.load_state_dict(new, strict=False)
    return sorted(new)


def _resize_shorter_side(x: torch.Tensor, side: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    scale = side / min(h, w)
    size = (max(side, round(h * scale)), max(side, round(w * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def preprocess(frames, size: int = 224, resize_side: int = 256) -> torch.Tensor:
    """RGB frames (B, H, W, 3) uint8 (numpy or tensor) -> (B, 3, size, size) float32 for ResNet-50.

    As slim ``vgg_preprocessing`` at evaluation (which the DualCam code calls with its defaults):
    bilinear resize so that the shorter side is ``resize_side`` (256), central crop ``size`` x
    ``size``, then, for torchvision weights, scale to [0, 1] and normalise with the ImageNet
    mean/std (slim subtracted the VGG means instead). ``resize_side=size`` keeps the whole
    shorter side. A single frame (H, W, 3) gives (1, 3, size, size). Frames must be RGB; the
    DualCam TFRecords hold BGR (from cv2.imread), so reverse the last axis for those.
    """
    x = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"preprocess expects (B, H, W, 3) RGB frames, got shape {tuple(x.shape)}")
    if resize_side < size:
        raise ValueError(f"resize_side ({resize_side}) must be >= crop size ({size})")
    x = x.permute(0, 3, 1, 2).float()
    if min(x.shape[-2:]) != resize_side:
        x = _resize_shorter_side(x, resize_side)
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    x = x[:, :, top : top + size, left : left + size] / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


RANDOM_BACKBONE_SEED = 0  # the seed of a ResNet-50 backbone without pretrained weights, and of its calibration frames


class ResNet50Teacher(nn.Module):
    """Visual teacher: torchvision ResNet-50 with a new ``fc`` 2048 -> n_classes (the 'logits').

    Input (B, 3, 224, 224) float, ImageNet-normalised (see ``preprocess``); ``forward`` ->
    (B, n_classes), ``embed`` -> (B, 2048) pooled feature. The network is built with
    ``weights=None``; ``weights_path`` is an optional local state_dict: an ImageNet ResNet-50
    one (its 1000-way ``fc`` is dropped, ours stays fresh, as in the paper) or one saved from this
    class or ``resnet50`` with a matching ``fc`` (loaded whole). By default only ``fc`` is
    trainable, as in the original code, and the frozen backbone's batch norms stay in eval mode
    so their statistics do not drift; ``train_backbone=True`` trains everything.

    Note: torchvision's ResNet-50 is "v1.5" (stride on the 3x3 conv), slim's ``resnet_v1_50``
    strides on the 1x1 conv; same parameter count.
    """

    def __init__(self, n_classes: int, weights_path=None, train_backbone: bool = False):
        super().__init__()
        from torchvision.models import resnet50

        self.net = resnet50(weights=None)  # drawn from the caller's generator, which moves on as it always did
        if weights_path is None:
            # a random backbone stands in for the ImageNet weights, which every run would share: it
            # is redrawn from a fixed seed, whatever the run's, so that runs of every seed share it
            # (and its cached features)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_BACKBONE_SEED)
                self.net.load_state_dict(resnet50(weights=None).state_dict())
        self.net.fc = nn.Linear(2048, n_classes)
        self.train_backbone = train_backbone
        if weights_path is not None:
            self.load_weights(weights_path)
        for name, p in self.net.named_parameters():
            p.requires_grad = train_backbone or name.startswith("fc.")

    def load_weights(self, path) -> None:
        """Load a local state_dict file (see the class docstring); errors name the file."""
        path = _check_file(path)
        sd = _load_state_dict_file(path)
        if any(k.startswith("net.") for k in sd):
            sd = {k[4:]: v for k, v in sd.items() if k.startswith("net.")}
        fc = self.net.fc
        if sd.get("fc.weight") is not None and tuple(sd["fc.weight"].shape) != tuple(fc.weight.shape):
            sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
        try:
            result = self.net.load_state_dict(sd, strict=False)
        except RuntimeError as exc:
            raise AcamError(f"{path}: does not fit ResNet-50 ({str(exc).splitlines()[0]})") from None
        missing = [k for k in result.missing_keys if not k.startswith("fc.")]
        if missing or result.unexpected_keys:
            raise AcamError(
                f"{path}: not a ResNet-50 state_dict (missing {missing[:5]}, "
                f"unexpected {result.unexpected_keys[:5]})"
            )

    @torch.no_grad()
    def calibrate_batchnorm(self, batches) -> int:
        """Set the backbone's batch-norm statistics from data (AdaBN): the cumulative mean and
        variance of each layer over ``batches`` of preprocessed frames. Without pretrained
        weights the default statistics (mean 0, variance 1) let activations grow layer after
        layer into a badly scaled feature; calibrated, the frozen random backbone is a usable
        feature extractor. Returns the number of frames seen; the weights are not touched."""
        bns = [m for m in self.net.modules() if isinstance(m, nn.BatchNorm2d)]
        saved = [(m.momentum, m.training) for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all batches
            m.train()
        n = 0
        for x in batches:
            self.embed(x)
            n += x.shape[0]
        for m, (mom, tr) in zip(bns, saved):
            m.momentum = mom
            m.train(tr)
        return n

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and not self.train_backbone:
            for name, m in self.net.named_children():
                if name != "fc":
                    m.eval()
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        y = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        y = n.layer4(n.layer3(n.layer2(n.layer1(y))))
        return torch.flatten(n.avgpool(y), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.fc(self.embed(x))

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """``fc`` on precomputed ``embed`` features (..., 2048): with the backbone frozen, the
        training loop computes those once per video frame and keeps them."""
        return self.net.fc(features)


class AVNet(nn.Module):
    """Audio-visual teacher (``AVModel``): ResNet-50 (1024-unit fc) + DualCamNet, fused per frame.

    Inputs: ``audio`` (B, 12, 12, 36, 48) as for ``DualCamNet``, and ``video`` either
    (B, 12, 3, 224, 224), one preprocessed frame per acoustic frame (the original pairs each
    acoustic image with its own video frame), or (B, 3, 224, 224), one frame used for all 12
    acoustic frames (computed once, broadcast). Per acoustic frame the 1024-d visual feature
    (ResNet-50 fc 2048 -> 1024) and DualCamNet's 1024-d ``full1`` embedding are concatenated
    [visual, acoustic] -> 2048 -> ``SharedHead`` 2048 -> 1000 -> classes.

    ``forward(audio, video)`` -> (B, 12, n_classes); ``embed`` -> the fused (B, 12, 2048).
    Trainable: all of DualCamNet, the ResNet fc and the head (the ResNet backbone is frozen).
    The original's ResNet 1024 output is the linear ``logits`` layer (no activation);
    ``visual_relu=True`` adds a ReLU after it. DualCamNet here has no dropout (num_classes=None
    in the original).
    """

    def __init__(self, n_classes: int, resnet_weights_path=None, visual_relu: bool = False):
        super().__init__()
        self.visual = ResNet50Teacher(EMBED_DIM, weights_path=resnet_weights_path)
        self.audio = DualCamNet(None)
        self.visual_relu = visual_relu
        self.head = SharedHead(2 * EMBED_DIM, n_classes)

    def embed(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        if video.ndim == 5:
            b, t = video.shape[:2]
            f = self.visual.embed(video.reshape(b * t, *video.shape[2:])).reshape(b, t, -1)
        elif video.ndim == 4:
            f = self.visual.embed(video)
        else:
            raise ValueError(f"AVNet video must be (B, T, 3, H, W) or (B, 3, H, W), got {tuple(video.shape)}")
        return self.embed_from_features(audio, f)

    def embed_from_features(self, audio: torch.Tensor, visual_features: torch.Tensor) -> torch.Tensor:
        """The fused embedding from ResNet-50 ``embed`` features: (B, T, 2048) one per acoustic
        frame, or (B, 2048) / (B, 1, 2048) one for all T frames."""
        a = self.audio.embed(audio)  # (B, T, 1024)
        b, t = a.shape[:2]
        f = visual_features[:, None] if visual_features.ndim == 2 else visual_features
        if f.ndim != 3 or f.shape[0] != b or f.shape[1] not in (1, t):
            raise ValueError(f"visual features {tuple(visual_features.shape)} do not match audio {(b, t)}")
        v = self.visual.from_features(f).expand(b, t, EMBED_DIM)
        if self.visual_relu:
            v = F.relu(v)
        return torch.cat([v, a], dim=-1)

    def forward_features(self, audio: torch.Tensor, visual_features: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed_from_features(audio, visual_features))

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(audio, video))
