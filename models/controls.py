"""Controls: tests that show that what we measure is what we say.

:func:`permute_teacher` writes a teacher whose classes are relabelled by a permutation: it says
class ``k`` where the original said ``perm[k]``. A student distilled from it with ``lam = 1``
learns only from the teacher, so it must follow the permutation, not the labels; if it followed
the labels, the soft-label path would not be carrying the teacher at all.

:func:`two_figure_control` asks whether a localiser listens. Its sessions show two figures, one
heard and one silent (``SourceSpec(silent=True)``: drawn performing, arcs and all, exactly as if
it sounded, so the picture alone cannot tell which one is heard). With the clip's own audio the
map must peak on the heard figure; with the audio of another session in which the silent
figure's class is the one heard (the audio-shuffle control) it must not: a localiser that found
"the figure" from the picture alone would stay on the same one either way.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..errors import AcamError
from ..io.atomic import atomic_output
from .train import peek_checkpoint, save_atomic

# the output layer of each teacher: its rows are the classes
_OUTPUT_LAYER = {"dualcamnet": "head.fc2", "avnet": "head.fc2", "resnet50": "net.fc"}


def permute_teacher(checkpoint, out, perm) -> Path:
    """Copy a teacher checkpoint to ``out`` with its output rows permuted: new class ``k`` is
    the original's ``perm[k]``. The checkpoint records ``control = {"permuted_classes": perm}``."""
    ck = dict(peek_checkpoint(checkpoint))
    model = ck.get("config", {}).get("model")
    n = len(ck.get("classes", []))
    if model not in _OUTPUT_LAYER:
        raise AcamError(f"{checkpoint}: a {model} checkpoint is not a teacher ({', '.join(_OUTPUT_LAYER)})")
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(n)):
        raise AcamError(f"permutation: expected the numbers 0..{n - 1} each once, found {perm}")
    state = {k: v.clone() for k, v in torch.load(checkpoint, map_location="cpu", weights_only=False)["model"].items()}
    layer = _OUTPUT_LAYER[model]
    for part in ("weight", "bias"):
        state[f"{layer}.{part}"] = state[f"{layer}.{part}"][perm].clone()
    ck["model"] = state
    ck["control"] = {"permuted_classes": perm}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(ck, out)
    return out


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n (sound at the ends, where k is 0 or n)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def _figures(session, start: int, frames: int, middle: int):
    """(heard, silent) source indices of a clip: the one sounding source that sounds in the clip
    and the one silent source, both in the picture at the middle frame; None otherwise."""
    t = session.truth
    sources = session.metadata.get("simulation", {}).get("sources") if t is not None else None
    if not sources or len(sources) != len(t.labels):
        return None
    silent = [j for j, s in enumerate(sources) if s.get("silent")]
    heard = [j for j, s in enumerate(sources) if not s.get("silent") and t.active[start:start + frames, j].any()]
    k = start + middle
    if len(silent) != 1 or len(heard) != 1 or not (t.visible[k, silent[0]] and t.visible[k, heard[0]]):
        return None
    return heard[0], silent[0]


def _tally(on_heard: list[bool], apart: list[bool]) -> dict:
    """Counts over all clips; the interval from the clips that do not overlap (``apart``), since
    overlapping clips share their audio and are not independent trials."""
    k, n = int(sum(on_heard)), len(on_heard)
    ki = int(sum(o for o, a in zip(on_heard, apart) if a))
    ni = int(sum(apart))
    return {"clips": n, "on_heard": k, "on_silent": n - k, "fraction_on_heard": k / n if n else float("nan"),
            "independent": {"clips": ni, "on_heard": ki, "fraction_on_heard": ki / ni if ni else float("nan"),
                            "ci95": list(wilson_interval(ki, ni))}}


def two_figure_control(checkpoint, pairs, device: str = "auto", min_separation: float = 96.0, picture=None,
                       overwrite: bool = False) -> dict:
    """The localiser ``checkpoint`` (``acam train localize``) on sessions with one heard and one
    silent figure: for each 5-s clip (both figures in its middle frame, at least
    ``min_separation`` px apart, the heard one sounding in the clip), is the similarity map's
    peak nearer the heard figure than the silent one?

    - ``own_audio``: the clip's own microphone 0;
    - ``shuffled_audio``: microphone 0 of a clip from another session whose heard class is this
      clip's silent figure's class (clips without such a session are left out of this row);
    - ``acoustic_camera``: the array's own band-energy peak (the reference).

    Each row counts its clips and those on the heard figure, and again over the clips that do not
    overlap (``independent``) with the 95 % Wilson interval of that fraction; ``per_clip`` gives each clip's
    peaks (video pixels) and verdicts. ``picture`` writes a PNG: per
    clip, the map with its own audio beside the map with the shuffled audio (heard figure green,
    silent figure red, peak white)."""
    import cv2

    from .cache import cache_root
    from .data import FPS, ClipDataset, Files, index_clips
    from .evaluation import independent_clips
    from .inputs import audio_input
    from .localization import MIDDLE, acoustic_map, frame_tensor, load_localizer, middle_frames, overlay_map
    from .losses import peak_pixel
    from .train import STUDENT_FRAMES, _batches, device_for

    dev = device_for(device)
    model, ck = load_localizer(checkpoint, dev)
    size = (ck["config"]["frame_width"], ck["config"]["frame_height"])
    files = Files(cache=cache_root([s for s, _ in pairs]))
    clips, figs, skipped = [], [], {"no heard and silent figure in the picture": 0, "figures too close": 0}
    for c in index_clips(pairs, clip_frames=STUDENT_FRAMES, hop_frames=FPS, files=files):
        s = files.session(c.session)
        f = _figures(s, c.start, c.frames, MIDDLE)
        if f is None:
            skipped["no heard and silent figure in the picture"] += 1
            continue
        pix = s.truth.pixel[c.start + MIDDLE]
        if np.hypot(*(pix[f[0]] - pix[f[1]])) < min_separation:
            skipped["figures too close"] += 1
            continue
        clips.append(c)
        figs.append((pix[f[0]].astype(float), pix[f[1]].astype(float), s.truth.labels[f[1]]))
    # the donor of a clip's shuffled audio: a clip of another session where its silent class is heard,
    # taken in turn so that one donor does not stand in for all
    donors = []
    for i, (c, (_, _, silent_label)) in enumerate(zip(clips, figs)):
        cand = [j for j, d in enumerate(clips) if d.label == silent_label and d.session != c.session]
        donors.append(cand[i % len(cand)] if cand else None)
    ds = ClipDataset(clips, ck["classes"], None, audio=True, files=files)
    own, shuffled, camera, shown, per_clip = [], [], [], [], []
    with torch.no_grad():
        for idx in _batches(len(ds), 16, None):
            items = [ds[int(i)] for i in idx]
            frames = middle_frames(items, files)
            h, w = frames.shape[1:3]
            v = frame_tensor(frames, size, dev)
            maps = model.maps(audio_input("hearnet", items, ck["stats"], dev), v).cpu()
            have = [j for j, i in enumerate(idx) if donors[int(i)] is not None]
            other = {}
            if have:
                donor_items = [ds[donors[int(idx[j])]] for j in have]
                m2 = model.maps(audio_input("hearnet", donor_items, ck["stats"], dev), v[have]).cpu()
                other = dict(zip(have, m2))
            for j, (i, it) in enumerate(zip(idx, items)):
                heard, silent, _ = figs[int(i)]
                nearer = lambda p: bool(np.hypot(*(p - heard)) < np.hypot(*(p - silent)))  # noqa: E731
                p = np.array(peak_pixel(maps[j], (w, h)))
                own.append(nearer(p))
                camera.append(nearer(np.array(peak_pixel(acoustic_map(it, files), (w, h)))))
                c = clips[int(i)]
                per_clip.append({"session": Path(c.session).name, "start": c.start, "heard": c.label, "silent": figs[int(i)][2],
                                 "own_peak": p.tolist(), "own_on_heard": own[-1], "camera_on_heard": camera[-1]})
                if j in other:
                    q = np.array(peak_pixel(other[j], (w, h)))
                    shuffled.append(nearer(q))
                    per_clip[-1].update(donor=Path(clips[donors[int(i)]].session).name, shuffled_peak=q.tolist(),
                                        shuffled_on_heard=shuffled[-1])
                    if picture is not None and len(shown) < 4:
                        pair = [overlay_map(frames[j], m.numpy(), heard, pk) for m, pk in ((maps[j], p), (other[j], q))]
                        for img in pair:
                            cv2.circle(img, (int(round(silent[0])), int(round(silent[1]))), 14, (255, 0, 0), 3)
                        shown.append(np.concatenate(pair, axis=1))
    apart = [independent_clips([c]) == 1 for c in clips]
    has_donor = [a for a, d in zip(apart, donors) if d is not None]
    out = {"clips": len(clips), "independent": sum(apart), "skipped": skipped, "min_separation_px": min_separation,
           "own_audio": _tally(own, apart), "shuffled_audio": _tally(shuffled, has_donor),
           "acoustic_camera": _tally(camera, apart), "per_clip": per_clip}
    if picture is not None and shown:
        with atomic_output(picture, overwrite=overwrite) as tmp:
            cv2.imwrite(str(tmp), cv2.cvtColor(np.concatenate(shown, axis=0), cv2.COLOR_RGB2BGR))
        out["picture"] = str(picture)
    return out
