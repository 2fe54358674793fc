"""Distillation and audio-visual losses for the teacher/student models.

Notation used in the docstrings below (all losses are batch means):

* ``s``  -- student logits, shape (B, C);
* ``t``  -- teacher logits, shape (B, C), or per acoustic frame (B, F, C), in which case
  they are first averaged over the F frames (:func:`average_teacher_logits`);
* ``y``  -- ground-truth labels, class indices (B,) or class probabilities (B, C);
* ``sigma`` -- softmax over classes, ``log_sigma`` -- log-softmax;
* ``CE(p, z) = -sum_c p_c * log_sigma(z)_c`` -- cross-entropy of a target distribution ``p``
  against logits ``z`` (for class indices ``p`` is the one-hot vector of ``y``).

The WACV 2020 paper ("Audio-Visual Model Distillation Using Acoustic Images", eq. 1) and its
published trainer use the *generalised-distillation* form implemented by
:func:`soft_label_distillation`: the teacher's soft labels are tempered, the student is not,
and there is no ``T**2`` factor.  The standard Hinton et al. form is
:func:`hinton_distillation`.  The teacher is frozen during distillation (:func:`freeze`); every
loss here also detaches the teacher's tensors so that no gradient can reach it.

torch is imported here only; the rest of ``acoustic_camera`` does not depend on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ACOUSTIC_FPS",
    "frames_for_clip",
    "average_teacher_logits",
    "soft_label_distillation",
    "hinton_distillation",
    "FeatureHint",
    "TemporalAggregator",
    "sequential_hint_loss",
    "info_nce_av",
    "localization_map",
    "peak_pixel",
    "freeze",
    "assert_frozen",
]

#: Acoustic frames per second of the DualCam data (one acoustic image every 1/12 s).
ACOUSTIC_FPS = 12


def frames_for_clip(sample_length: float = 5.0, fps: int = ACOUSTIC_FPS) -> int:
    """Number of acoustic frames covering a student clip: ``round(fps * sample_length)``.

    With the published defaults (12 frames/s, 5 s clips) this is 60.
    """
    n = int(round(fps * sample_length))
    if n < 1:
        raise ValueError(f"a clip of {sample_length} s at {fps} frames/s holds no frame")
    return n


def _check_lam_T(lam: float, T: float) -> None:
    if not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    if not float(T) > 0.0:
        raise ValueError(f"temperature T must be > 0, got {T}")


def average_teacher_logits(teacher_logits: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
    """Teacher logits averaged over the acoustic frames covering the student's clip.

    ``t_bar[b, c] = (1 / F) * sum_{f=0}^{F-1} t[b, f, c]``

    Accepted shapes:

    * (B, F, C): averaged over axis 1.  If ``n_frames`` is given it must equal F.
    * (B * n_frames, C) with ``n_frames`` given: frame-major logits as a per-frame teacher
      produces them (frames of one clip consecutive); reshaped to (B, n_frames, C) and averaged.
    * (B, C) without ``n_frames``: already clip-level, returned unchanged.

    The published trainer averages the teacher over ``12 * sample_length = 60`` frames of a 5 s
    clip (see :func:`frames_for_clip`).
    """
    t = teacher_logits
    if t.dim() == 3:
        if n_frames is not None and t.shape[1] != n_frames:
            raise ValueError(f"teacher logits hold {t.shape[1]} frames per clip, expected {n_frames}")
        return t.mean(dim=1)
    if t.dim() == 2:
        if n_frames is None:
            return t
        if n_frames < 1 or t.shape[0] % n_frames:
            raise ValueError(f"{t.shape[0]} frame rows cannot be split into clips of {n_frames} frames")
        return t.reshape(t.shape[0] // n_frames, n_frames, t.shape[1]).mean(dim=1)
    raise ValueError(f"teacher logits must be (B, C) or (B, F, C), got shape {tuple(t.shape)}")


def _soft_ce(target_probs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``mean_b CE(p_b, z_b) = mean_b ( -sum_c p_bc * log_sigma(z_b)_c )``."""
    return -(target_probs * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def _hard_ce(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """CE(y, s) batch mean; ``labels`` are class indices (B,) or class probabilities (B, C)."""
    if labels.dim() == logits.dim() and labels.is_floating_point():
        return _soft_ce(labels.to(logits.dtype), logits)
    return F.cross_entropy(logits, labels.long())


def _teacher_clip_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                         n_frames: int | None) -> torch.Tensor:
    t = average_teacher_logits(teacher_logits.detach(), n_frames)
    if t.shape != student_logits.shape:
        raise ValueError(f"teacher logits {tuple(t.shape)} do not match student logits "
                         f"{tuple(student_logits.shape)}")
    return t.to(student_logits.dtype)


def soft_label_distillation(student_logits: torch.Tensor, labels: torch.Tensor,
                            teacher_logits: torch.Tensor, lam: float = 0.5, T: float = 1.0,
                            n_frames: int | None = None) -> torch.Tensor:
    """Generalised-distillation loss as published (paper eq. 1 and its trainer).

    ``L = (1 - lam) * CE(y, s) + lam * CE(sigma(t_bar / T), s)``

    where ``t_bar`` is the teacher logits averaged over frames when given as (B, F, C)
    (or as (B * n_frames, C) with ``n_frames``).  Only the teacher's soft labels are tempered:
    the student logits ``s`` are *not* divided by T and there is *no* ``T**2`` factor (unlike
    :func:`hinton_distillation`).  The teacher is detached.  Paper/trainer defaults:
    ``lam = 0.5``, ``T = 1``.
    """
    _check_lam_T(lam, T)
    t = _teacher_clip_logits(student_logits, teacher_logits, n_frames)
    soft = F.softmax(t / T, dim=-1)
    return (1.0 - lam) * _hard_ce(labels, student_logits) + lam * _soft_ce(soft, student_logits)


def hinton_distillation(student_logits: torch.Tensor, labels: torch.Tensor,
                        teacher_logits: torch.Tensor, lam: float = 0.5, T: float = 4.0,
                        n_frames: int | None = None) -> torch.Tensor:
    """Standard knowledge distillation of Hinton, Vinyals and Dean (2015).

    ``L = (1 - lam) * CE(y, s) + lam * T**2 * KL( sigma(t_bar / T) || sigma(s / T) )``

    with ``KL(p || q) = sum_c p_c (log p_c - log q_c)``, averaged over the batch.  The ``T**2``
    factor keeps the soft-target gradients on the same scale as the hard-label ones when T
    changes.  ``t_bar`` as in :func:`soft_label_distillation`; the teacher is detached.
    """
    _check_lam_T(lam, T)
    t = _teacher_clip_logits(student_logits, teacher_logits, n_frames)
    log_p = F.log_softmax(t / T, dim=-1)
    log_q = F.log_softmax(student_logits / T, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()
    return (1.0 - lam) * _hard_ce(labels, student_logits) + lam * (T * T) * kl


class FeatureHint(nn.Module):
    """Embedding ("hint") distillation, learning using privileged information.

    ``L = mean( (P s_emb - stopgrad(t_emb))**2 )``

    ``P`` is a learned ``nn.Linear(student_dim, teacher_dim)`` (ordinary random init, not an
    identity) when the dimensions differ, and ``nn.Identity`` when they are equal, in which case
    the loss is the plain MSE.  ``P`` acts on the last axis, so (B, D) and (B, K, D) inputs both
    work; the mean runs over every element.
    """

    def __init__(self, student_dim: int, teacher_dim: int):
        super().__init__()
        self.student_dim = int(student_dim)
        self.teacher_dim = int(teacher_dim)
        if self.student_dim == self.teacher_dim:
            self.proj: nn.Module = nn.Identity()
        else:
            self.proj = nn.Linear(self.student_dim, self.teacher_dim)

    def forward(self, student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
        z = self.proj(student_emb)
        target = teacher_emb.detach().to(z.dtype)
        if z.shape != target.shape:
            raise ValueError(f"projected student {tuple(z.shape)} does not match teacher "
                             f"{tuple(target.shape)}")
        return F.mse_loss(z, target)


class TemporalAggregator(nn.Module):
    """Aggregates per-segment embeddings (B, K, dim) into one clip embedding (B, out_dim).

    * ``mode="gru"`` (default): a one-layer GRU over the K segments; the final hidden state.
    * ``mode="mean"``: ``Linear(mean_k x[:, k])``.
    """

    def __init__(self, dim: int, out_dim: int | None = None, mode: str = "gru"):
        super().__init__()
        out_dim = int(dim if out_dim is None else out_dim)
        self.mode = mode
        if mode == "gru":
            self.net: nn.Module = nn.GRU(int(dim), out_dim, batch_first=True)
        elif mode == "mean":
            self.net = nn.Linear(int(dim), out_dim)
        else:
            raise ValueError(f"mode must be 'gru' or 'mean', got {mode!r}")

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        if segments.dim() != 3:
            raise ValueError(f"segments must be (B, K, dim), got shape {tuple(segments.shape)}")
        if self.mode == "gru":
            _, h = self.net(segments)
            return h[-1]
        return self.net(segments.mean(dim=1))


def _hint(student: torch.Tensor, teacher: torch.Tensor, proj) -> torch.Tensor:
    if isinstance(proj, FeatureHint):
        return proj(student, teacher)
    z = student if proj is None else proj(student)
    return F.mse_loss(z, teacher.detach().to(z.dtype))


def sequential_hint_loss(segment_student: torch.Tensor, segment_teacher: torch.Tensor,
                         agg_student: torch.Tensor, agg_teacher: torch.Tensor,
                         proj_seg=None, proj_agg=None, alpha: float = 0.5) -> torch.Tensor:
    """Sequential hint distillation: per-segment and aggregated embeddings are both matched.

    ``L = alpha * (1/K) sum_k MSE(P_seg s_k, t_k) + (1 - alpha) * MSE(P_agg s_agg, t_agg)``

    ``segment_student`` (B, K, Ds), ``segment_teacher`` (B, K, Dt), ``agg_student`` (B, Ds'),
    ``agg_teacher`` (B, Dt') -- the aggregates typically from :class:`TemporalAggregator`.
    ``proj_seg`` / ``proj_agg`` map the student's last axis onto the teacher's: a
    :class:`FeatureHint`, any module/callable (e.g. ``nn.Linear``), or ``None`` for identity.
    Each MSE is a mean over its elements, so the mean over segments of the per-segment MSE equals
    the MSE over all (B, K, Dt) elements.  Teacher tensors are detached.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if segment_student.dim() != 3 or segment_teacher.dim() != 3:
        raise ValueError("segment embeddings must be (B, K, D)")
    if segment_student.shape[:2] != segment_teacher.shape[:2]:
        raise ValueError(f"segment shapes {tuple(segment_student.shape)} and "
                         f"{tuple(segment_teacher.shape)} differ in (B, K)")
    seg = _hint(segment_student, segment_teacher, proj_seg)
    agg = _hint(agg_student, agg_teacher, proj_agg)
    return alpha * seg + (1.0 - alpha) * agg


def _similarity_scores(audio_emb: torch.Tensor, visual_map: torch.Tensor, pooling: str,
                       temperature: float) -> torch.Tensor:
    a = F.normalize(audio_emb, dim=1)
    v = F.normalize(visual_map, dim=1)
    S = torch.einsum("id,jdhw->ijhw", a, v).flatten(2)          # (B, B, H*W) cosines
    if pooling == "max":
        return S.amax(dim=2)
    if pooling == "mean":
        return S.mean(dim=2)
    if pooling == "softmax":
        w = F.softmax(S / temperature, dim=2)
        return (w * S).sum(dim=2)
    raise ValueError(f"pooling must be 'max', 'mean' or 'softmax', got {pooling!r}")


def info_nce_av(audio_emb: torch.Tensor, visual_map: torch.Tensor, temperature: float = 0.03,
                pooling: str = "max") -> torch.Tensor:
    """Symmetric InfoNCE for audio-visual sound-source localisation.

    Similarity map ``S[i, j, h, w] = cos(a_i, v_j[:, h, w])`` for audio embeddings ``a``
    (B, D) and visual feature maps ``v`` (B, D, H, W).  Pooling over locations gives the score
    matrix ``Z[i, j]``:

    * ``"max"`` (default): ``Z[i, j] = max_{h,w} S[i, j, h, w]``;
    * ``"mean"``: the mean over locations;
    * ``"softmax"``: soft max, ``sum_{hw} softmax_{hw}(S / temperature) * S``.

    With ``logits = Z / temperature`` and matching pairs on the diagonal,
    ``L = ( CE_rows(logits, diag) + CE_cols(logits, diag) ) / 2``,
    i.e. audio->visual and visual->audio retrieval, each a batch-mean cross-entropy.
    """
    if audio_emb.dim() != 2 or visual_map.dim() != 4:
        raise ValueError("audio_emb must be (B, D) and visual_map (B, D, H, W)")
    if audio_emb.shape[0] != visual_map.shape[0] or audio_emb.shape[1] != visual_map.shape[1]:
        raise ValueError(f"audio {tuple(audio_emb.shape)} and visual {tuple(visual_map.shape)} "
                         "differ in B or D")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = _similarity_scores(audio_emb, visual_map, pooling, temperature) / temperature
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def localization_map(audio_emb: torch.Tensor, visual_map: torch.Tensor) -> torch.Tensor:
    """Cosine-similarity map ``M[h, w] = cos(a, v[:, h, w])``.

    ``audio_emb`` (D,) and ``visual_map`` (D, H, W) give (H, W); batched inputs (B, D) and
    (B, D, H, W) give (B, H, W).
    """
    if audio_emb.dim() == 1 and visual_map.dim() == 3:
        return torch.einsum("d,dhw->hw", F.normalize(audio_emb, dim=0), F.normalize(visual_map, dim=0))
    if audio_emb.dim() == 2 and visual_map.dim() == 4:
        return torch.einsum("bd,bdhw->bhw", F.normalize(audio_emb, dim=1), F.normalize(visual_map, dim=1))
    raise ValueError("expected audio (D,) with visual (D, H, W), or audio (B, D) with visual (B, D, H, W)")


def peak_pixel(map, image_size=(640, 480)) -> tuple[float, float]:
    """Video pixel ``(u, v)`` of the centre of the map's maximum cell.

    ``map`` has shape (rows, cols) (a torch tensor or anything numpy-like); ``image_size`` is
    ``(width, height)`` in pixels.  With ``(i, j) = argmax`` (first in row-major order on ties)
    and pixel centres at integer coordinates:

    ``u = (j + 0.5) * width / cols - 0.5``,   ``v = (i + 0.5) * height / rows - 0.5``.
    """
    m = map.detach().cpu() if isinstance(map, torch.Tensor) else torch.as_tensor(map)
    if m.dim() != 2:
        raise ValueError(f"map must be 2-D (rows, cols), got shape {tuple(m.shape)}")
    rows, cols = m.shape
    k = int(torch.argmax(m.reshape(-1)))
    i, j = divmod(k, cols)
    width, height = image_size
    return (j + 0.5) * width / cols - 0.5, (i + 0.5) * height / rows - 0.5


def freeze(model: nn.Module) -> nn.Module:
    """Freeze a teacher: eval mode and ``requires_grad = False`` on every parameter.

    Returns the same module.  A later ``.train()`` on a parent module would switch it back to
    training mode; call :func:`assert_frozen` to check.
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def assert_frozen(model: nn.Module) -> None:
    """Raise ``AssertionError`` unless ``model`` and all its submodules are in eval mode and no
    parameter requires or holds a gradient."""
    training = [name or "<root>" for name, m in model.named_modules() if m.training]
    if training:
        raise AssertionError(f"modules in training mode: {training}")
    bad = [name for name, p in model.named_parameters() if p.requires_grad or p.grad is not None]
    if bad:
        raise AssertionError(f"parameters requiring or holding gradients: {bad}")

