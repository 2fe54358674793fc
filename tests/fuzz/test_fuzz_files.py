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


def test_info_says_what_is_wrong_with_every_output_damaged(base, tmp_path):
    """`acam info` on each kind of file acam writes (picture, video, WAV, geometry, JSON, the
    models' arrays), whole, cut short and with bytes flipped: a summary, or one line."""
    import numpy as np

    s, _ = base
    made = {"png": tmp_path / "f.png", "mp4": tmp_path / "o.mp4", "wav": tmp_path / "l.wav"}
    setup = run_cases([
        {"id": "png", "args": ["render", str(s), "--png", str(made["png"]), "--frame", "2", "--quiet"], "outputs": []},
        {"id": "mp4", "args": ["render", str(s), "--out", str(made["mp4"]), "--quiet"], "outputs": []},
        {"id": "wav", "args": ["listen", str(s), "--pixel", "4,6", "--out", str(made["wav"]), "--quiet"], "outputs": []},
    ])
    assert all(r["verdict"] == "ok" for r in setup), setup
    from acoustic_camera import preset

    made["xml"] = tmp_path / "g.xml"
    preset("uma16").to_xml(made["xml"])
    made["json"] = tmp_path / "x.json"
    made["json"].write_text('{"acam_schema": "acam-split", "units": []}')
    made["npz"] = tmp_path / "a.npz"
    np.savez(made["npz"], a=np.arange(10))
    rng = np.random.default_rng(3)
    files = []
    for kind, p in made.items():
        data = p.read_bytes()
        files.append(p)
        for cut in (0, 10, len(data) // 3, len(data) - 7):
            q = tmp_path / f"{kind}-cut{cut}{p.suffix}"
            q.write_bytes(data[:cut])
            files.append(q)
        for j in range(3):
            x = bytearray(data)
            at = int(rng.integers(0, max(1, len(x) - 16)))
            for i in range(at, min(at + 16, len(x))):
                x[i] ^= 0x5A
            q = tmp_path / f"{kind}-flip{j}{p.suffix}"
            q.write_bytes(bytes(x))
            files.append(q)
    results = run_cases([{"id": q.name, "args": ["info", str(q)], "outputs": []} for q in files])
    print("\nfuzz:", {"cases": len(results), **{v: sum(r["verdict"] == v for r in results) for v in
                                                 {r["verdict"] for r in results}}})
    bad = [r for r in results if r["verdict"] not in ("ok", "error")]
    assert not bad, "\n".join(f"{r['id']}: {r['verdict']} {r.get('detail')} {r.get('stderr', '')[-200:]}" for r in bad)
    assert sum(r["verdict"] == "error" for r in results) >= len(made) * 2  # the empty and cut files, at least
