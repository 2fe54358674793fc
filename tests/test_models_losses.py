"""Distillation / audio-visual losses checked against hand computations on tiny tensors."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from acoustic_camera.models import losses as L  # noqa: E402

# 2 samples x 3 classes, chosen numbers
S = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
TCH = np.array([[2.0, 0.0, 1.0], [0.5, 0.5, -1.0]])
Y = np.array([1, 2])


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_log_softmax(z):
    return np.log(np_softmax(z))


def t64(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def hand_ce_hard():
    # -log softmax(s)[y], written per sample
    ce0 = -(2.0 - math.log(math.exp(1.0) + math.exp(2.0) + math.exp(0.5)))
    ce1 = -(3.0 - math.log(math.exp(0.0) + math.exp(-1.0) + math.exp(3.0)))
    return (ce0 + ce1) / 2


# ---------------------------------------------------------------- frame averaging

def test_average_teacher_logits_3d_and_flat():
    t = t64([[[1, 2, 3], [3, 2, 1], [2, 2, 8]],
             [[0, 0, 0], [6, 3, 0], [0, 3, 3]]])
    want = np.array([[2.0, 2.0, 4.0], [2.0, 2.0, 1.0]])
    np.testing.assert_allclose(L.average_teacher_logits(t).numpy(), want)
    np.testing.assert_allclose(L.average_teacher_logits(t, n_frames=3).numpy(), want)
    # frame-major flat layout (B * F, C)
    np.testing.assert_allclose(L.average_teacher_logits(t.reshape(6, 3), n_frames=3).numpy(), want)
    # clip-level logits pass through
    assert torch.equal(L.average_teacher_logits(t[:, 0]), t[:, 0])
    with pytest.raises(ValueError):
        L.average_teacher_logits(t, n_frames=60)
    with pytest.raises(ValueError):
        L.average_teacher_logits(t.reshape(6, 3), n_frames=4)
    assert L.frames_for_clip(5) == 60 and L.frames_for_clip(1) == 12


# ---------------------------------------------------------------- soft labels (published form)

@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("T", [1.0, 2.0])
def test_soft_label_distillation_matches_formula(lam, T):
    got = L.soft_label_distillation(t64(S), torch.tensor(Y), t64(TCH), lam=lam, T=T).item()
    p = np_softmax(TCH / T)                                   # tempered teacher
    soft = np.mean(-(p * np_log_softmax(S)).sum(axis=1))      # student NOT tempered
    want = (1 - lam) * hand_ce_hard() + lam * soft
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    if lam > 0 and T != 1.0:
        tempered_student = np.mean(-(p * np_log_softmax(S / T)).sum(axis=1))
        hinton_like = (1 - lam) * hand_ce_hard() + lam * T * T * tempered_student
        assert abs(got - ((1 - lam) * hand_ce_hard() + lam * tempered_student)) > 1e-3
        assert abs(got - hinton_like) > 1e-3


def test_soft_label_distillation_explicit_numbers():
    # lam = 1, T = 1 on sample 0 only: CE(softmax([2,0,1]), [1,2,0.5])
    e = [math.exp(2.0), math.exp(0.0), math.exp(1.0)]
    p = [x / sum(e) for x in e]
    lse = math.log(math.exp(1.0) + math.exp(2.0) + math.exp(0.5))
    want = -sum(pc * (sc - lse) for pc, sc in zip(p, [1.0, 2.0, 0.5]))
    got = L.soft_label_distillation(t64(S[:1]), torch.tensor(Y[:1]), t64(TCH[:1]), lam=1.0, T=1.0)
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_soft_label_distillation_averages_frames_and_accepts_probabilities():
    frames = np.stack([TCH + 1.0, TCH - 1.0, TCH], axis=1)  # mean over frames == TCH
    a = L.soft_label_distillation(t64(S), torch.tensor(Y), t64(frames), lam=0.5, T=2.0)
    b = L.soft_label_distillation(t64(S), torch.tensor(Y), t64(TCH), lam=0.5, T=2.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    onehot = t64(np.eye(3)[Y])
    c = L.soft_label_distillation(t64(S), onehot, t64(TCH), lam=0.5, T=2.0)
    assert c.item() == pytest.approx(b.item(), rel=1e-12)
    with pytest.raises(ValueError):
        L.soft_label_distillation(t64(S), torch.tensor(Y), t64(TCH), lam=1.5)
    with pytest.raises(ValueError):
        L.soft_label_distillation(t64(S), torch.tensor(Y), t64(TCH), T=0.0)


# ---------------------------------------------------------------- Hinton form

@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("T", [1.0, 4.0])
def test_hinton_distillation_matches_formula(lam, T):
    got = L.hinton_distillation(t64(S), torch.tensor(Y), t64(TCH), lam=lam, T=T).item()
    p = np_softmax(TCH / T)
    q = np_softmax(S / T)
    kl = np.mean((p * (np.log(p) - np.log(q))).sum(axis=1))
    want = (1 - lam) * hand_ce_hard() + lam * T * T * kl
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_hinton_has_T_squared_factor():
    T = 3.0
    got = L.hinton_distillation(t64(S), torch.tensor(Y), t64(TCH), lam=1.0, T=T).item()
    p = np_softmax(TCH / T)
    q = np_softmax(S / T)
    kl = float(np.mean((p * np.log(p / q)).sum(axis=1)))
    assert got == pytest.approx(9.0 * kl, rel=1e-12)
    # identical teacher and student: zero soft term
    same = L.hinton_distillation(t64(S), torch.tensor(Y), t64(S), lam=1.0, T=T).item()
    assert same == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- feature hints

def test_feature_hint_identity_is_plain_mse():
    hint = L.FeatureHint(3, 3)
    assert isinstance(hint.proj, nn.Identity)
    s = t64([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
    t = t64([[1.0, 0.0, 3.0], [1.0, 0.0, -1.0]])
    # squared differences: 0, 4, 0, 1, 0, 4 -> 9 / 6
    assert hint(s, t).item() == pytest.approx(1.5, rel=1e-12)


def test_feature_hint_projection_with_hand_weights():
    hint = L.FeatureHint(2, 3).double()
    assert isinstance(hint.proj, nn.Linear)
    with torch.no_grad():
        hint.proj.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        hint.proj.bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
    s = t64([[1.0, 2.0]])           # -> [1, 2, 4]
    t = t64([[0.0, 2.0, 3.0]])      # diffs 1, 0, 1
    assert hint(s, t).item() == pytest.approx(2.0 / 3.0, rel=1e-12)


def test_sequential_hint_loss_hand_computed():
    seg_s = t64([[[1.0, 0.0], [0.0, 1.0]]])           # B=1, K=2, D=2
    seg_t = t64([[[0.0, 0.0], [0.0, 3.0]]])           # per-segment MSE: 0.5, 2.0 -> mean 1.25
    agg_s = t64([[2.0, 2.0]])
    agg_t = t64([[1.0, 2.0]])                          # MSE 0.5
    got = L.sequential_hint_loss(seg_s, seg_t, agg_s, agg_t, None, None, alpha=0.25)
    assert got.item() == pytest.approx(0.25 * 1.25 + 0.75 * 0.5, rel=1e-12)
    # with projections (a FeatureHint and a plain Linear)
    ph = L.FeatureHint(2, 1).double()
    pl = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        ph.proj.weight.copy_(torch.tensor([[1.0, 1.0]]))
        ph.proj.bias.zero_()
        pl.weight.copy_(torch.tensor([[1.0, -1.0]]))
    # segments -> [1], [1] vs [0], [2]: MSE (1 + 1) / 2 = 1 ; agg -> [0] vs [3]: 9
    got = L.sequential_hint_loss(seg_s, t64([[[0.0], [2.0]]]), agg_s, t64([[3.0]]), ph, pl, alpha=0.5)
    assert got.item() == pytest.approx(0.5 * 1.0 + 0.5 * 9.0, rel=1e-12)


@pytest.mark.parametrize("mode", ["gru", "mean"])
def test_temporal_aggregator_shapes_and_mean_mode(mode):
    agg = L.TemporalAggregator(4, out_dim=5, mode=mode)
    assert agg(torch.randn(3, 7, 4)).shape == (3, 5)
    if mode == "mean":
        with torch.no_grad():
            agg.net.weight.zero_()
            agg.net.weight[0, 0] = 1.0
            agg.net.bias.zero_()
        x = torch.tensor([[[1.0, 0, 0, 0], [3.0, 0, 0, 0]]])
        assert agg(x)[0, 0].item() == pytest.approx(2.0)


# ---------------------------------------------------------------- audio-visual contrastive

def test_info_nce_av_tiny_case_and_symmetry():
    tau = 0.5
    a = t64([[1.0, 0.0], [0.0, 1.0]])
    v_vec = t64([[2.0, 2.0], [0.0, 3.0]])           # unnormalised on purpose
    v = v_vec[:, :, None, None]                      # (B, D, 1, 1)
    r = 1 / math.sqrt(2)
    Z = [[r, 0.0], [r, 1.0]]                          # cos(a_i, v_j)
    row = [-(Z[i][i] / tau - math.log(sum(math.exp(Z[i][j] / tau) for j in range(2))))
           for i in range(2)]
    col = [-(Z[j][j] / tau - math.log(sum(math.exp(Z[i][j] / tau) for i in range(2))))
           for j in range(2)]
    want = (sum(row) / 2 + sum(col) / 2) / 2
    got = L.info_nce_av(a, v, temperature=tau)
    assert got.item() == pytest.approx(want, rel=1e-12)
    swapped = L.info_nce_av(v_vec, a[:, :, None, None], temperature=tau)
    assert swapped.item() == pytest.approx(got.item(), rel=1e-12)


def test_info_nce_av_pooling_over_locations():
    tau = 1.0
    a = t64([[1.0, 0.0], [0.0, 1.0]])
    # sample 0 map has locations (1,0) and (0,1); sample 1 map has (0,1) and (-1,0)
    v = t64([[[[1.0, 0.0]], [[0.0, 1.0]]],
             [[[0.0, -1.0]], [[1.0, 0.0]]]])         # (B=2, D=2, H=1, W=2)
    # cosines: a0.v0 = {1, 0}, a0.v1 = {0, -1}, a1.v0 = {0, 1}, a1.v1 = {1, 0}
    zmax = [[1.0, 0.0], [1.0, 1.0]]
    zmean = [[0.5, -0.5], [0.5, 0.5]]

    def sym(Z):
        row = sum(-(Z[i][i] - math.log(math.exp(Z[i][0]) + math.exp(Z[i][1]))) for i in range(2)) / 2
        col = sum(-(Z[j][j] - math.log(math.exp(Z[0][j]) + math.exp(Z[1][j]))) for j in range(2)) / 2
        return (row + col) / 2

    assert L.info_nce_av(a, v, tau).item() == pytest.approx(sym(zmax), rel=1e-12)
    assert L.info_nce_av(a, v, tau, pooling="mean").item() == pytest.approx(sym(zmean), rel=1e-12)
    soft = L.info_nce_av(a, v, 0.01, pooling="softmax").item()
    assert soft == pytest.approx(L.info_nce_av(a, v, 0.01).item(), rel=1e-3)


def test_localization_map_and_peak_pixel():
    a = t64([1.0, 0.0])
    v = torch.zeros(2, 2, 3, dtype=torch.float64)
    v[1] = 1.0                     # cos 0 everywhere ...
    v[0, 1, 2] = 5.0               # ... except (1, 2): vector (5, 1)
    v[0, 0, 0] = -1.0              # (-1, 1): cos -1/sqrt(2)
    m = L.localization_map(a, v)
    assert m.shape == (2, 3)
    assert m[1, 2].item() == pytest.approx(5 / math.sqrt(26))
    assert m[0, 0].item() == pytest.approx(-1 / math.sqrt(2))
    assert m[0, 1].item() == pytest.approx(0.0)
    u, vv = L.peak_pixel(m, image_size=(640, 480))
    assert u == pytest.approx(2.5 * 640 / 3 - 0.5)
    assert vv == pytest.approx(1.5 * 480 / 2 - 0.5)
    # numpy map, a single cell maps to the image centre
    assert L.peak_pixel(np.array([[3.0]]), (640, 480)) == pytest.approx((319.5, 239.5))
    # batched form
    mb = L.localization_map(a[None], v[None])
    assert torch.allclose(mb[0], m)


# ---------------------------------------------------------------- frozen teacher

def test_frozen_teacher_gets_no_gradient_student_learns():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    student = nn.Linear(4, 3)
    assert L.freeze(teacher) is teacher
    L.assert_frozen(teacher)
    assert teacher.training is False
    t_before = [p.detach().clone() for p in teacher.parameters()]
    s_before = [p.detach().clone() for p in student.parameters()]
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    x = torch.randn(5, 4)
    y = torch.tensor([0, 1, 2, 0, 1])
    loss = L.soft_label_distillation(student(x), y, teacher(x), lam=0.5, T=1.0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(t_before, teacher.parameters()))
    assert teacher.training is False
    L.assert_frozen(teacher)
    assert any(not torch.equal(a, b) for a, b in zip(s_before, student.parameters()))


def test_assert_frozen_detects_unfrozen():
    m = nn.Linear(2, 2)
    with pytest.raises(AssertionError):
        L.assert_frozen(m)
    L.freeze(m)
    m.train()
    with pytest.raises(AssertionError):
        L.assert_frozen(m)


@pytest.mark.parametrize("fn", [L.soft_label_distillation, L.hinton_distillation])
def test_logit_losses_detach_unfrozen_teacher(fn):
    teacher = nn.Linear(4, 3)                 # deliberately not frozen
    student = nn.Linear(4, 3)
    x = torch.randn(6, 4)
    fn(student(x), torch.tensor([0, 1, 2, 0, 1, 2]), teacher(x), lam=0.7, T=2.0).backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


# ---------------------------------------------------------------- gradients reach the student

def _nonzero_grads(*modules):
    ps = [p for m in modules for p in m.parameters()]
    return bool(ps) and all(p.grad is not None and p.grad.abs().sum().item() > 0 for p in ps)


def test_gradients_flow_feature_and_sequential_hints():
    torch.manual_seed(1)
    enc = nn.Linear(4, 5)
    tenc = L.freeze(nn.Linear(4, 6))
    hint = L.FeatureHint(5, 6)
    x = torch.randn(3, 4)
    hint(enc(x), tenc(x)).backward()
    assert _nonzero_grads(enc, hint)
    assert all(p.grad is None for p in tenc.parameters())

    seg_enc = nn.Linear(4, 5)
    agg_s = L.TemporalAggregator(5, mode="gru")
    proj_seg, proj_agg = L.FeatureHint(5, 6), L.FeatureHint(5, 7)
    xs = torch.randn(2, 3, 4)
    seg_s = seg_enc(xs)
    seg_t = torch.randn(2, 3, 6, requires_grad=True)
    agg_t = torch.randn(2, 7, requires_grad=True)
    L.sequential_hint_loss(seg_s, seg_t, agg_s(seg_s), agg_t, proj_seg, proj_agg, alpha=0.5).backward()
    assert _nonzero_grads(seg_enc, agg_s, proj_seg, proj_agg)
    assert seg_t.grad is None and agg_t.grad is None


def test_gradients_flow_info_nce():
    torch.manual_seed(2)
    aenc = nn.Linear(6, 4)
    venc = nn.Conv2d(3, 4, 1)
    for pooling in ("max", "mean", "softmax"):
        aenc.zero_grad(set_to_none=True)
        venc.zero_grad(set_to_none=True)
        L.info_nce_av(aenc(torch.randn(3, 6)), venc(torch.randn(3, 3, 2, 2)), 0.1, pooling).backward()
        assert _nonzero_grads(aenc, venc), pooling
