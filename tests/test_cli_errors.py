"""The error contract of the command line: every bad input to every command ends with exactly
one line on stderr, ``acam: error: ...`` naming the input, exit status 2, no traceback and no
output file; and the command line is consistent (help on every option, --overwrite/--quiet on
every writer, choices from the modules' own lists)."""

import click
import h5py
import numpy as np
import pytest

from acoustic_camera.cli import main
from acoustic_camera.sim.simulator import SimConfig, simulate_to_file
from acoustic_camera.sim.trajectories import SourceSpec

from conftest import run_acam


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from acoustic_camera import preset
    from acoustic_camera.beamform.pipeline import beamform_session

    d = tmp_path_factory.mktemp("cli")
    s = d / "s.h5"
    simulate_to_file(SimConfig(duration=1.0, seed=2, geometry=preset("uma16"),
                               sources=(SourceSpec("clapping", "static", (0.2, 0.0, 2.0)),)), s)
    beamform_session(s, features=("mfcc", "energy"), backend="numpy")
    other = d / "other.h5"
    simulate_to_file(SimConfig(duration=0.5, seed=3, geometry=preset("uma16")), other)
    bare = d / "bare"
    bare.mkdir()
    (bare / "bare.h5").write_bytes((d / "other.h5").read_bytes())  # a session without its acoustic file
    junk = d / "junk.h5"
    junk.write_text("not an hdf5 file")
    ck = d / "junk.pt"
    ck.write_bytes(b"\x00" * 64)
    empty = d / "empty"
    empty.mkdir()
    return {"d": d, "s": s, "a": d / "s.acoustic.h5", "other": other, "bare": bare, "junk": junk, "ck": ck,
            "empty": empty}


def run(args, capsys):
    """One ``acam`` invocation in this process: (exit status, stdout, stderr)."""
    try:
        main.main(args=[str(a) for a in args], prog_name="acam")
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# (command line with {placeholders}, text the one line must hold)
CATALOGUE = [
    # capture
    ("capture --out {d}/x.h5 --sources violin", "unknown sound class 'violin'"),
    ("capture --out {d}/x.h5 --sources clapping@1,2", "position must be X,Y,Z"),
    ("capture --out {d}/x.h5 --sources clapping@0,0,50", "outside the anechoic room"),
    ("capture --out {d}/x.h5 --sources clapping:run", "motion must be one of static, walk"),
    ("capture --out {d}/x.h5 --duration -1", "--duration: expected a finite number > 0 s"),
    ("capture --out {d}/x.h5 --geometry nothing.xml", "nothing.xml: geometry file not found"),
    ("capture --out {d}/x.h5 --geometry {junk}", "not a readable XML geometry file"),
    ("capture --out {d}/x.h5 --scenario underwater", "--scenario"),
    ("capture --out {d}/x.h5 --rate 100", "--rate: expected a finite number >= 1000 Hz"),
    ("capture --out {d}/x.h5 --fps 0", "--fps: expected a finite number >= 0.5 fps"),
    ("capture --out {d}/x.h5 --duration ten", "--duration"),
    ("capture --out {s}", "file exists"),
    ("capture --duration 1", "Missing option '--out'"),
    ("capture --out {d}/x.h5 --audio-device no-such-device", "audio device"),
    # info
    ("info {d}/missing.h5", "missing.h5: no such file"),
    ("info {junk}", "not HDF5"),
    ("info {d}", "is a directory"),
    # beamform
    ("beamform {d}/missing.h5 --out {d}/x.h5", "missing.h5: no such file"),
    ("beamform {junk} --out {d}/x.h5", "not HDF5"),
    ("beamform {a} --out {d}/x.h5", "an acoustic-image file: give the session"),
    ("beamform {s} --out {d}/x.h5 --grid 36by48", "--grid: expected ROWSxCOLS"),
    ("beamform {s} --out {d}/x.h5 --features pictures", "--features: expected a comma-separated subset"),
    ("beamform {s} --out {d}/x.h5 --focus-distance near", "--focus-distance"),
    ("beamform {s} --out {d}/x.h5 --focus-distance -2", "--focus-distance"),
    ("beamform {s} --out {d}/x.h5 --nfft 1023", "--nfft: expected a positive even number"),
    ("beamform {s} --out {d}/x.h5 --window kaiser", "window 'kaiser'"),
    ("beamform {s} --out {d}/x.h5 --steering sideways", "--steering"),
    ("beamform {s} --out {d}/x.h5 --backend cupy", "--backend cupy"),
    ("beamform {s} --out {d}/x.h5 --band a:b", "--band: expected LO:HI"),
    ("beamform {s} --out {d}/x.h5 --band 5000:1000", "--band: expected LO:HI"),
    ("beamform {s} --out {d}/x.h5 --band 9000:", "--band 9000:"),
    ("beamform {s} --out {d}/x.h5 --dtype int8", "--dtype"),
    ("beamform {s} --out {d}/x.h5 --batch 0", "--batch"),
    ("beamform {s} --out {s} --overwrite", "overwrite its own input"),
    ("beamform {s}", "file exists"),
    # render
    ("render {s}", "nothing to render"),
    ("render {s} --png {d}/x.png --frame 99", "frames 0..11"),
    ("render {s} --png {d}/x.png --acoustic {d}/missing.h5", "missing.h5: no such file"),
    ("render {s} --png {d}/x.png --acoustic {s}", "a session: its acoustic file is s.acoustic.h5"),
    ("render {other} --png {d}/x.png --acoustic {a}", "/frame_sample_index"),
    ("render {s} --png {d}/x.png --range -3", "--range: expected a finite number > 0"),
    ("render {s} --png {d}/x.png --band 2000:3000", "/energy_db: expected maps for the band 2000-3000 Hz by delay-and-sum"),
    ("render {s} --png {d}/x.png --method capon --acoustic {a}", "by capon on 12-frame CSMs; found"),
    ("render {s} --png {d}/x.png --method capon --loading 0", "--loading: expected a finite number > 0"),
    ("beamform {s} --out {d}/x.h5 --method cleansc --features volumes", "--features energy"),
    ("beamform {s} --out {d}/x.h5 --method cleansc --clean-gain 2", "--clean-gain: expected a finite number > 0 and <= 1"),
    ("listen {s} --out {d}/x.wav", "exactly one of --pixel ROW,COL and --truth"),
    ("listen {s} --out {d}/x.wav --pixel 1,99", "--pixel 1,99: expected ROW in 0..35 and COL in 0..47"),
    ("listen {s} --out {d}/x.wav --truth --band 5:2", "--band"),
    ("render {s} --png {d}/x.png --reference peak", "--reference"),
    ("render {s} --png {s}", "file exists"),
    # plot
    ("plot array --out {d}/x.png --freqs a,b", "--freqs: expected comma-separated numbers"),
    ("plot array --out {d}/x.png --geometry nope", "nope: geometry file not found (expected a preset"),
    ("plot spectrum {s} --out {d}/x.png", "exactly one of --pixel ROW,COL and --truth"),
    ("plot spectrum {s} --out {d}/x.png --pixel 99,1", "rows 0..35"),
    ("plot spectrum {s} --out {d}/x.png --pixel 1", "--pixel: expected 2 comma-separated integers"),
    ("plot spectrum {s} --out {d}/x.png --truth --acoustic {a}", "/volumes: expected full volumes"),
    # import
    ("import dualcam {d}/nowhere --out {d}/x.h5", "no such directory"),
    ("import dualcam {empty} --out {d}/x.h5", "no A_*.dc files"),
    ("import dualcam {empty} --out {d}/x.h5 --broken x", "--broken"),
    ("import dualcam-mfcc {d}/missing.h5 {empty} --out {d}/x.h5", "missing.h5: no such file"),
    ("import dualcam-mfcc {s} {empty} --out {d}/x.h5", "no Data_*.mat files"),
    ("import dualcam-mfcc {s} {d}/nowhere --out {d}/x.h5", "no such directory"),
    # models
    ("train teacher {d}/nowhere --out {d}/run", "no such session file or folder"),
    ("train teacher {bare} --out {d}/run", "missing: run `acam beamform"),
    ("train teacher {s} --out {d}/run --model hearnet", "does not go with"),
    ("train distill {s} --out {d}/run", "--teacher: distillation needs a teacher checkpoint"),
    ("train student {s} --out {d}/run --lr 0", "--lr"),
    ("train teacher {s} --out {d}/run --train-scenario indoor", "cross-scenario training needs both"),
    ("train teacher {s} --out {d}/run --train-scenario indoor --test-scenario anechoic", "'indoor' is in none of the sessions"),
    ("train sideways {s} --out {d}/run", "ROLE"),
    ("train distill {s} --out {d}/run --teacher {ck}", "junk.pt: not an acam checkpoint"),
    ("evaluate {s} --checkpoint {d}/missing.pt", "missing.pt: no such checkpoint"),
    ("evaluate {s} --checkpoint {ck}", "junk.pt: not an acam checkpoint"),
    ("evaluate {s}", "Missing option '--checkpoint'"),
    ("features {s} --checkpoint {ck} --out {d}/x.npz", "junk.pt: not an acam checkpoint"),
    ("features {s} --checkpoint {ck} --out {d}/x.npz --layer pool5", "--layer"),
    # array
    ("array design --out {d}/lay --n-mics 1 --iterations 10", "bad parameters"),
    ("array design --out {d}/lay --f-lo 5000 --f-hi 1000 --iterations 10", "bad parameters"),
    ("array design --out {d}/lay --iterations many", "--iterations"),
    ("nosuchcommand", "No such command"),
]


@pytest.mark.parametrize("line, words", CATALOGUE, ids=[c[0].split(" {")[0] + ": " + c[1] for c in CATALOGUE])
def test_bad_input_is_one_line_and_exit_2(files, capsys, line, words):
    if line.startswith(("train", "evaluate", "features")):
        pytest.importorskip("torch")
    args = line.format(**files).split()
    before = sorted(p.name for p in files["d"].rglob("*"))
    code, out, err = run(args, capsys)
    assert code == 2, (code, out, err)
    assert err.startswith("acam: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert words in err, err
    assert sorted(p.name for p in files["d"].rglob("*")) == before  # nothing written, nothing half-written


def test_a_subprocess_sees_the_same_one_line(files):
    r = run_acam("beamform", files["s"], "--out", files["d"] / "y.h5", "--nfft", "7", check=False)
    assert r.returncode == 2 and r.stderr == "acam: error: --nfft: expected a whole number from 16 to 65536 samples, found '7'\n"


def _commands(group=main, path=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


WRITERS = {("capture",), ("beamform",), ("render",), ("plot", "array"), ("plot", "spectrum"), ("import", "dualcam"),
           ("import", "dualcam-mfcc"), ("import", "audio"), ("export",), ("train",), ("evaluate",), ("features",),
           ("array", "design")}


def test_every_option_has_help_and_every_writer_overwrite_and_quiet():
    seen = set()
    for path, cmd in _commands():
        seen.add(path)
        assert cmd.help, path
        opts = {o.name: o for o in cmd.params if isinstance(o, click.Option)}
        for o in opts.values():
            assert o.help or o.hidden, (path, o.name)
        if path in WRITERS:
            assert {"overwrite", "quiet"} <= set(opts), path
    assert WRITERS <= seen


def test_choices_come_from_the_modules_lists():
    from acoustic_camera.beamform.steering import STEERING
    from acoustic_camera.catalog import SCENARIOS
    from acoustic_camera.io.acoustic import VOLUME_DTYPES
    from acoustic_camera.kernels.base import BACKENDS
    from acoustic_camera.models.kinds import DISTILL_KINDS, MODELS, ROLES

    def choices(path, name):
        cmd = dict(_commands())[path]
        return tuple(next(p for p in cmd.params if p.name == name).type.choices)

    assert choices(("capture",), "scenario") == SCENARIOS
    assert choices(("beamform",), "steering") == STEERING
    assert choices(("beamform",), "backend") == ("auto",) + BACKENDS
    assert choices(("beamform",), "dtype") == VOLUME_DTYPES
    assert choices(("train",), "role") == ROLES and choices(("train",), "model") == MODELS
    assert choices(("train",), "distill_kind") == DISTILL_KINDS


def test_capture_restores_the_signal_handlers(files, capsys):
    import signal

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    code, out, _ = run(["capture", "--out", files["d"] / "ok.h5", "--duration", "0.2", "--geometry", "uma16",
                        "--quiet"], capsys)
    (files["d"] / "ok.h5").unlink()
    assert code == 0 and "wrote" in out
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_an_unfinished_acoustic_file_is_refused(files, tmp_path, capsys):
    bad = tmp_path / "a.h5"
    bad.write_bytes(files["a"].read_bytes())
    with h5py.File(bad, "r+") as f:
        f.attrs["complete"] = 0
    code, _, err = run(["render", files["s"], "--png", tmp_path / "x.png", "--acoustic", bad], capsys)
    assert code == 2 and "root attribute complete: expected 1" in err and err.count("\n") == 1
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir()), ["a.h5"])
