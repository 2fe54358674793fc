"""Runs ``acam`` command lines against hostile inputs, many per process, each with a time limit.

The parent (:func:`run_cases`) feeds cases to a child process that imports acam once (numba's
start-up would otherwise dominate) and runs each command line in-process; it reads one JSON
result per case. A case that passes its time limit is a hang: the child is killed and a fresh
one takes the next case. A child that dies (a segmentation fault) is a crash.

Each result is classified:

- ``error``: exit 2 and exactly one ``acam: error: ...`` line on stderr (warnings aside);
- ``ok``: exit 0 and every output it wrote is finite (HDF5 floats, WAV samples) or readable (PNG);
- ``traceback``: any other exception, or an error that is not one line;
- ``nonfinite``: exit 0 with an output holding NaN or inf;
- ``hang``, ``crash``.

Run as ``python runner.py --child`` it is the child.
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


# -- the child -------------------------------------------------------------------------------
def _check_output(path: str) -> str | None:
    """None when the output is finite and readable, else what is wrong with it."""
    import numpy as np

    p = Path(path)
    if not p.exists():
        return "no output file"
    if p.suffix == ".h5":
        import h5py

        with h5py.File(p, "r") as f:
            bad = []

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and obj.size and not np.isfinite(obj[()]).all():
                    bad.append(name)

            f.visititems(visit)
        return f"non-finite {bad}" if bad else None
    if p.suffix == ".wav":
        from scipy.io import wavfile

        _, x = wavfile.read(p)
        return None if np.isfinite(np.asarray(x, dtype=np.float64)).all() else "non-finite samples"
    if p.suffix == ".png":
        import cv2

        return None if cv2.imread(str(p)) is not None else "unreadable picture"
    return None


def _child() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    from acoustic_camera.cli import main

    for line in sys.stdin:
        case = json.loads(line)
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
        code, exc = 0, None
        try:
            main.main(args=case["args"], prog_name="acam")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException as e:  # noqa: BLE001: what escapes main is what the suite counts
            code, exc = -1, f"{type(e).__name__}: {e}"[:300]
        stdout, stderr = sys.stdout.getvalue(), sys.stderr.getvalue()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("acam: warning:")]
        if exc is not None or "Traceback" in stderr:
            verdict = "traceback"
        elif code == 2 and len(lines) == 1 and lines[0].startswith("acam: error: "):
            verdict = "error"
        elif code == 0:
            problem = None
            for o in case.get("outputs", []):
                try:
                    problem = _check_output(o)
                except Exception as e:  # noqa: BLE001
                    problem = f"output unreadable: {type(e).__name__}: {e}"
                if problem:
                    break
            verdict = "nonfinite" if problem else "ok"
            exc = problem
        else:
            verdict = "traceback"
        out.write(json.dumps({"id": case["id"], "verdict": verdict, "code": code, "detail": exc,
                              "stderr": stderr[-400:], "stdout": stdout[-200:]}) + "\n")


# -- the parent ------------------------------------------------------------------------------
class _Child:
    def __init__(self, env):
        self.p = subprocess.Popen([sys.executable, str(HERE), "--child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env)

    def ask(self, case: dict, limit: float) -> dict | None:
        """The child's result, or None after ``limit`` seconds (a hang) or if it died."""
        self.p.stdin.write(json.dumps(case) + "\n")
        self.p.stdin.flush()
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.p.stdout], [], [], left)
            if ready:
                line = self.p.stdout.readline()
                return json.loads(line) if line else None

    def kill(self) -> None:
        self.p.kill()
        self.p.wait()


def run_cases(cases: list[dict], limit: float = 20.0, warmup: float = 180.0) -> list[dict]:
    """Each case ``{"id", "args", "outputs"}`` run with ``limit`` seconds (the first ``warmup``:
    it compiles the kernels); one result per case, in order."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    results, child, first = [], None, True
    for case in cases:
        if child is None:
            child, first = _Child(env), True
        t = time.monotonic()
        r = child.ask(case, warmup if first else limit)
        first = False
        if r is None:
            dead = child.p.poll()
            child.kill()
            verdict = "crash" if dead is not None else "hang"
            r = {"id": case["id"], "verdict": verdict, "code": dead, "detail": f"after {time.monotonic() - t:.1f} s"}
            child = None
        r["args"] = case["args"]
        r["seconds"] = time.monotonic() - t
        results.append(r)
    if child is not None:
        child.p.stdin.close()
        child.p.wait(timeout=30)
    return results


if __name__ == "__main__" and "--child" in sys.argv:
    _child()
