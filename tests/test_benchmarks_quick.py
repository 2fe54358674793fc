"""The benchmarks keep working: the quick mode runs end to end (no speed is asserted here)."""

import json
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_quick_benchmarks_run_and_report():
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--quick"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    results = REPO / "benchmarks" / "results"
    summary = json.loads((results / "summary_quick.json").read_text())
    kernels = summary["kernels"]
    assert kernels["rows"][0]["gflops"] > 0 and any("numba" in k["name"] for k in kernels["rows"])
    assert any("1 frame/call" in k["name"] for k in kernels["rows"])
    # every figure names its machine: CPU model, vector ISA, BLAS, the kernel
    for key in ("cpu", "isa", "blas", "kernel"):
        assert kernels["machine"][key]
    # a new process's first call was measured (quick mode: with the kernels cached)
    assert [c["first_call_s"] > 0 for c in kernels["cold"]] == [True]
    from acoustic_camera.kernels.base import gpu_available

    if not gpu_available():
        assert all("skipped" in g for g in kernels["gpu"]) and kernels["gpu"]
    assert (results / "batch_quick.png").stat().st_size > 5000
    md = (results / "summary_quick.md").read_text()
    for heading in ("Kernels", "Scaling", "End to end", "Simulator", "ISA", "cold process"):
        assert heading in md
