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
    assert summary["kernels"][0]["gflops"] > 0 and any("numba" in k["name"] for k in summary["kernels"])
    assert (results / "batch_quick.png").stat().st_size > 5000
    md = (results / "summary_quick.md").read_text()
    for heading in ("Kernels", "Scaling", "End to end", "Simulator"):
        assert heading in md
