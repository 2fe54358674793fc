"""Absurd, non-finite and enormous option values through every command that takes them: each
ends in one line and exit 2 before any work (or succeeds with finite output), within a time
limit; and Hypothesis properties of the shared option types (:mod:`acoustic_camera.options`)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acoustic_camera import options
from acoustic_camera.errors import AcamError
from fuzz.corpus import make_base
from fuzz.runner import run_cases

ABSURD = {
    "capture": ["--duration 1e9", "--duration nan", "--duration inf", "--duration -0", "--duration 1e400",
                "--rate 1e7", "--rate nan", "--rate inf", "--fps 20000", "--fps nan", "--fps -1", "--seed -1",
                "--seed " + "9" * 5000, "--seed 1.5", "--sources clapping@0,0,0", "--sources clapping@nan,0,2",
                "--sources clapping@1e400,0,2", "--duration 0.5 --fps 1e-9"],
    "beamform": ["--grid 2000x2000", "--grid 0x5", "--grid 1e3x5", "--grid 5x5x5", "--grid " + "9" * 5000 + "x1",
                 "--nfft 1048576", "--nfft 2", "--nfft -1024", "--nfft nan", "--batch 1e9", "--batch 0",
                 "--band 0:1e400", "--band nan:5000", "--band 5000:100", "--band -5:10",
                 "--focus-distance nan", "--focus-distance 1e400", "--focus-distance 0",
                 "--method capon --loading inf", "--method capon --loading nan", "--method functional --nu nan",
                 "--method functional --nu inf", "--method cleansc --clean-steps 1e9",
                 "--method cleansc --clean-gain nan", "--method das --csm-frames 1000000", "--method das --csm-frames 0",
                 "--grid 1024x256 --nfft 65536"],
    "render": ["--range nan", "--range inf", "--range 0", "--range 1e400", "--frame -1", "--frame 1e30",
               "--frame " + "9" * 5000, "--band 1e400:", "--method cleansc --clean-steps 1e9",
               "--method capon --loading -1"],
    "listen": ["--pixel nan,1", "--pixel 1e30,1", "--pixel 1,2,3", "--band 0:nan", "--csm-frames 1e9 --method mvdr",
               "--loading inf --method mvdr", "--grid 0x0"],
}


def _command(cmd: str, extra: str, s, d, k: int) -> tuple[list, list]:
    if cmd == "capture":
        out = d / f"cap{k}.h5"
        return ["capture", "--out", str(out), "--geometry", "uma16", "--quiet", "--overwrite", *extra.split()], [str(out)]
    if cmd == "beamform":
        out = d / f"b{k}.h5"
        return ["beamform", str(s), "--out", str(out), "--quiet", "--overwrite", *extra.split()], [str(out)]
    if cmd == "render":
        out = d / f"r{k}.png"
        frame = [] if "--frame" in extra else ["--frame", "0"]
        return ["render", str(s), "--png", str(out), *frame, "--quiet", "--overwrite", *extra.split()], [str(out)]
    out = d / f"l{k}.wav"
    pixel = [] if "--pixel" in extra else ["--pixel", "4,6"]
    grid = [] if "--grid" in extra else ["--grid", "9x12"]
    return ["listen", str(s), *pixel, *grid, "--out", str(out), "--quiet", "--overwrite", *extra.split()], [str(out)]


def test_absurd_options(tmp_path):
    s, _ = make_base(tmp_path)
    cases = []
    for cmd, extras in ABSURD.items():
        for k, extra in enumerate(extras):
            args, outputs = _command(cmd, extra, s, tmp_path, k)
            cases.append({"id": f"{cmd} {extra[:40]}", "args": args, "outputs": outputs})
    cases.append({"id": "render r.txt", "args": ["render", str(s), "--png", str(tmp_path / "r.txt"), "--quiet"],
                  "outputs": [str(tmp_path / "r.txt")]})
    results = run_cases(cases, limit=30.0)
    print("\nfuzz:", {"cases": len(results), **{v: sum(r["verdict"] == v for r in results) for v in
                                                 {r["verdict"] for r in results}}})
    bad = [r for r in results if r["verdict"] not in ("error", "ok")]
    assert not bad, "\n".join(f"{r['id']}: {r['verdict']} {r.get('detail')} {r.get('stderr', '')[-200:]}" for r in bad)
    # every one of these is refused; none is "accepted" by doing something absurd
    accepted = [r["id"] for r in results if r["verdict"] == "ok"]
    assert not accepted, accepted
    slow = [(r["id"], round(r["seconds"], 1)) for r in results[1:] if r["seconds"] > 5]
    assert not slow, f"refusals must come before the work: {slow}"


# -- properties of the option types ------------------------------------------------------------
anything = st.one_of(st.text(max_size=60), st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                     st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
                     st.integers(min_value=10**20, max_value=10**400).map(str))
real_types = st.builds(options.Real, st.one_of(st.none(), st.floats(-1e6, 1e6)), st.one_of(st.none(), st.floats(-1e6, 1e6)),
                       st.booleans(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(real_types, anything)
def test_real_is_finite_and_within_its_limits_or_refused(kind, value):
    try:
        x = kind(value, "--x")
    except AcamError as exc:
        assert str(exc).startswith("--x: expected ") and "\n" not in str(exc) and len(str(exc)) < 300
        return
    assert isinstance(x, float) and math.isfinite(x)
    assert kind.lo is None or (x > kind.lo if kind.lo_open else x >= kind.lo)
    assert kind.hi is None or (x < kind.hi if kind.hi_open else x <= kind.hi)


@settings(max_examples=300, deadline=None)
@given(st.integers(-10, 10), st.integers(-10, 10**6), anything)
def test_count_is_a_whole_number_within_its_limits_or_refused(lo, hi, value):
    kind = options.Count(lo, hi)
    try:
        x = kind(value, "--n")
    except AcamError as exc:
        assert str(exc).startswith("--n: expected ") and "\n" not in str(exc)
        return
    assert type(x) is int and lo <= x <= hi


@settings(max_examples=300, deadline=None)
@given(st.one_of(anything, st.tuples(anything, anything).map(lambda t: f"{t[0]}:{t[1]}"),
                 st.tuples(st.floats(), st.floats()).map(lambda t: f"{t[0]}:{t[1]}")))
def test_band_is_ordered_and_finite_or_refused(value):
    try:
        lo, hi = options.band(value, "--band")
    except AcamError as exc:
        assert str(exc).startswith("--band: expected ") and "\n" not in str(exc)
        return
    assert math.isfinite(lo) and lo >= 0 and (hi is None or (math.isfinite(hi) and hi > lo))


@settings(max_examples=300, deadline=None)
@given(st.one_of(anything, st.tuples(st.integers(-5, 5000), st.integers(-5, 5000)).map(lambda t: f"{t[0]}x{t[1]}")))
def test_grid_fits_the_look_point_limit_or_is_refused(value):
    try:
        r, c = options.grid(value, "--grid")
    except AcamError as exc:
        assert str(exc).startswith("--grid: expected ") and "\n" not in str(exc)
        return
    assert 1 <= r <= 1024 and 1 <= c <= 1024 and r * c <= options.MAX_LOOK_POINTS


@settings(max_examples=200, deadline=None)
@given(st.one_of(anything, st.lists(st.floats(), min_size=3, max_size=3).map(lambda v: ",".join(map(str, v)))))
def test_xyz_is_three_finite_coordinates_or_refused(value):
    try:
        p = options.xyz(value, "--at")
    except AcamError:
        return
    assert len(p) == 3 and all(math.isfinite(v) and abs(v) <= options.MAX_METRES for v in p)


def test_memory_is_checked_before_allocating():
    with pytest.raises(AcamError, match="needs .* GB of memory"):
        options.check_memory(1 << 60, "a test", "--grid")
