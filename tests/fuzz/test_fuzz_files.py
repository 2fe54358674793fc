"""The error contract against damaged and hostile files: every command that reads a session or
an acoustic file (``info``, ``beamform``, ``render --png``, ``listen``) on every file of the
corpus (:mod:`corpus`) ends in one line and exit 2, or succeeds with finite output; nothing
hangs (each case has a time limit), crashes or prints a traceback.

The fast loop runs the hand-edited files and a few truncations and byte flips through all four
commands; the slow run adds many more truncations and flips. Counts go to
``fuzz-summary.json`` in the test's folder (and are printed with ``-s``)."""

import json
from collections import Counter

import pytest

from fuzz.corpus import make_base, make_corpus
from fuzz.runner import run_cases

COMMANDS = ("info", "beamform", "render", "listen")


def _cases(corpus: dict, out) -> list[dict]:
    cases = []
    for name, (s, a) in sorted(corpus.items()):
        o = out / name
        o.mkdir(parents=True, exist_ok=True)
        cmd = {
            "info": (["info", str(a if a is not None else s)], []),
            "beamform": (["beamform", str(s), "--out", str(o / "b.h5"), "--grid", "9x12", "--features", "mfcc,energy",
                          "--quiet", "--overwrite"], [str(o / "b.h5")]),
            "render": (["render", str(s), "--png", str(o / "r.png"), "--frame", "0", "--quiet", "--overwrite"]
                       , [str(o / "r.png")]),
            "listen": (["listen", str(s), "--pixel", "4,6", "--grid", "9x12", "--out", str(o / "l.wav"), "--quiet",
                        "--overwrite"], [str(o / "l.wav")]),
        }
        # an acoustic file is read by info and render; beamform and listen read only the session
        for c in (("info", "render") if a is not None else COMMANDS):
            args, outputs = cmd[c]
            cases.append({"id": f"{name}/{c}", "args": args, "outputs": outputs})
    return cases


def _check(results, tmp_path):
    counts = Counter(r["verdict"] for r in results)
    summary = {"cases": len(results), **counts}
    (tmp_path / "fuzz-summary.json").write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    print("\nfuzz:", json.dumps(summary))
    failures = [r for r in results if r["verdict"] not in ("ok", "error")]
    assert not failures, "\n".join(f"{r['id']}: {r['verdict']} ({r.get('detail')}) {r.get('stderr', '')[-300:]}"
                                   for r in failures[:20])
    return counts


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("fuzzbase"))


def test_damaged_files_fast(base, tmp_path):
    corpus = make_corpus(tmp_path / "corpus", *base, n_meta=6, n_data=2)
    counts = _check(run_cases(_cases(corpus, tmp_path / "out")), tmp_path)
    assert counts["error"] > 100 and counts["ok"] > 10  # the corpus exercises both outcomes


@pytest.mark.slow
def test_damaged_files_many_flips(base, tmp_path):
    corpus = make_corpus(tmp_path / "corpus", *base, n_meta=40, n_data=16)
    corpus = {k: v for k, v in corpus.items() if "flip" in k}
    _check(run_cases(_cases(corpus, tmp_path / "out")), tmp_path)


def test_a_flat_or_silent_map_is_not_drawn_as_a_source():
    import numpy as np

    from acoustic_camera.view.render import RenderOptions, overlay_frame

    frame = np.full((480, 640, 3), 90, np.uint8)
    opts = RenderOptions(colorbar=False)
    for energy, top in ((np.full((36, 48), -300.0, np.float32), -300.0),  # silence (power_db's floor)
                        (np.full((36, 48), 42.0, np.float32), 42.0)):  # sound everywhere alike: no contrast
        out = overlay_frame(frame, energy, top, opts)
        assert np.array_equal(out[40:], frame[40:])  # untouched below the "no signal" line
        assert not np.array_equal(out[:40], frame[:40])  # which is written
    peak = np.full((36, 48), 30.0, np.float32)
    peak[18, 24] = 42.0
    assert not np.array_equal(overlay_frame(frame, peak, 42.0, opts)[40:], frame[40:])
