"""The layout reads as the path of the data, and the code keeps to it: no module imports from a
later step of the path; the core imports only declared core dependencies (extras only lazily,
where they belong); one owner per constant and per file format; importing acam changes no
process-wide state."""

import ast
import importlib.util
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from conftest import REPO

# where each installed module's source lies: the package-dir mapping of pyproject.toml
ROOTS = {"acoustic_camera": REPO / "acoustic_camera", "acoustic_camera.kernels": REPO / "kernels",
         "acoustic_camera.calibration": REPO / "calibration", "acoustic_camera.models": REPO / "models"}

# the path of the data, as ranks: a module may import from a lower rank, or from its own group
LEAVES = ("acoustic_camera", "acoustic_camera.errors", "acoustic_camera.constants", "acoustic_camera.catalog",
          "acoustic_camera.framing", "acoustic_camera._lazy", "acoustic_camera.io.atomic", "acoustic_camera.jitcache",
          "acoustic_camera.options")
GROUPS = [  # (prefix, group, rank); the first matching prefix wins
    ("acoustic_camera.kernels", "kernels", 1),
    ("acoustic_camera.array", "array", 1),
    ("acoustic_camera.io.live", "sources", 3),
    ("acoustic_camera.io.dualcam", "sources", 3),
    ("acoustic_camera.io.import_audio", "sources", 3),
    ("acoustic_camera.io", "formats", 2),
    ("acoustic_camera.sim", "sources", 3),
    ("acoustic_camera.beamform", "beamform", 3),
    ("acoustic_camera.view", "view", 4),
    ("acoustic_camera.models", "models", 4),
    ("acoustic_camera.calibration", "calibration", 4),
    ("acoustic_camera.dataset", "dataset", 4),  # sources made into sessions, beamformed: after both
    ("acoustic_camera.cli", "cli", 5),
    ("acoustic_camera.__main__", "cli", 5),
]


def place(module):
    if module in LEAVES:
        return "leaf", 0
    for prefix, group, rank in GROUPS:
        if module == prefix or module.startswith(prefix + "."):
            return group, rank
    raise AssertionError(f"{module}: in no group of the layout")


def modules():
    """(module name, path) of every installed module."""
    for pkg, root in ROOTS.items():
        for f in sorted(root.rglob("*.py")):
            rel = f.relative_to(root).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            if pkg == "acoustic_camera" and rel and rel[0] in ("kernels", "calibration", "models"):
                continue
            yield ".".join((pkg,) + rel), f


def imports(module, path):
    """(imported module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    funcs = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    for node in ast.walk(tree):
        lazy = id(node) in funcs
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, lazy
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            for a in node.names:
                sub = f"{base}.{a.name}"
                known = {m for m, _ in modules()} if base.startswith("acoustic_camera") else set()
                yield (sub if sub in known else base), node.lineno, lazy


ALL = list(modules())


def test_no_module_imports_from_a_later_step_of_the_path():
    bad = []
    for module, path in ALL:
        if module == "acoustic_camera":
            continue  # the top-level facade re-exports
        group, rank = place(module)
        for target, line, _ in imports(module, path):
            if not target.startswith("acoustic_camera"):
                continue
            tgroup, trank = place(target)
            if not (trank < rank or tgroup == group):
                bad.append(f"{path.relative_to(REPO)}:{line}: {module} ({group}) imports {target} ({tgroup})")
    assert not bad, "\n".join(bad)


def _core_distributions():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = set()
    for d in deps:
        for sep in "<>=!~[; ":
            d = d.split(sep)[0]
        names.add(d.lower().replace("_", "-"))
    return names


# the extras, each imported lazily (inside a function) and only where it belongs
EXTRAS = {"torch": "acoustic_camera.models", "torchvision": "acoustic_camera.models", "sklearn": "acoustic_camera.models",
          "torchfile": "acoustic_camera.models", "cupy": "acoustic_camera.kernels", "sounddevice": "acoustic_camera.io.live",
          "ray": "acoustic_camera.dataset", "starlette": "acoustic_camera.view.live.server",
          "uvicorn": "acoustic_camera.view.live.server"}


def test_the_core_imports_only_declared_core_dependencies():
    core = _core_distributions()
    dists = packages_distributions()
    stdlib = sys.stdlib_module_names
    bad = []
    for module, path in ALL:
        for target, line, lazy in imports(module, path):
            top = target.split(".")[0]
            if top in stdlib or top == "acoustic_camera" or top == "__future__":
                continue
            where = f"{path.relative_to(REPO)}:{line}: {top}"
            if top in EXTRAS:
                models_module = module.startswith("acoustic_camera.models") and module != "acoustic_camera.models.kinds"
                if not module.startswith(EXTRAS[top]):
                    bad.append(f"{where}: an extra outside {EXTRAS[top]}")
                elif not lazy and not models_module:
                    bad.append(f"{where}: an extra imported at module level")
                continue
            owners = {d.lower().replace("_", "-") for d in dists.get(top, [])}
            if not owners & core:
                bad.append(f"{where}: not a declared core dependency (from {sorted(owners) or 'nothing installed'})")
    assert not bad, "\n".join(bad)


def _code_constants(path):
    """Constants in the code of a file, docstrings and f-string pieces left out."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    in_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    return tree, [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in docs | in_fstrings]


@pytest.mark.parametrize("literal, owner", [
    (343.0, "acoustic_camera.constants"), (12288.0, None), (554.26, None),
    ("tukey0.75", "acoustic_camera.constants"), ("acam-session", "acoustic_camera.io.session"),
    ("acam-acoustic", "acoustic_camera.io.acoustic"), (".acoustic.h5", "acoustic_camera.io.acoustic"),
])
def test_one_owner_per_constant(literal, owner):
    """The value appears as code (not in docstrings or messages) in its owner only."""
    found = {module for module, path in ALL for n in _code_constants(path)[1]
             if n.value == literal and type(n.value) is type(literal)}
    assert found == ({owner} if owner else set()), found


def test_one_owner_per_list_of_names():
    """No module but the owner spells out a list of sound classes, scenarios or model kinds:
    the others import it (tables keyed by name are fine; their coverage is tested where they are)."""
    from acoustic_camera.catalog import SCENARIOS, SOUND_CLASSES
    from acoustic_camera.models.kinds import MODELS

    owners = {"acoustic_camera.catalog": (SOUND_CLASSES, SCENARIOS), "acoustic_camera.models.kinds": (MODELS,)}
    bad = []
    for module, path in ALL:
        tree, _ = _code_constants(path)
        for n in ast.walk(tree):
            if isinstance(n, (ast.Tuple, ast.List, ast.Set)):
                words = [e.value for e in n.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                for names in (SOUND_CLASSES, SCENARIOS, MODELS):
                    if len(set(words) & set(names)) >= 2 and names not in owners.get(module, ()):
                        bad.append(f"{path.relative_to(REPO)}:{n.lineno}: {words}")
    assert not bad, "\n".join(bad)


def test_each_subpackage_says_what_it_holds():
    for module, path in ALL:
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and len(doc) > 40, module


def test_importing_acam_changes_no_process_wide_state():
    code = r"""
import os, random, signal, sys, warnings
# the dependencies' own import-time habits (threadpoolctl sets an environment variable, some add
# warning filters) are theirs: load them first, then look at what acam's import changes
import numpy as np, cv2, scipy.signal, scipy.io, scipy.fft, h5py, numba, click, tqdm, matplotlib.figure, imageio_ffmpeg
import pyroomacoustics
state = lambda: (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), cv2.utils.logging.getLogLevel(),
                 repr(np.random.get_state()[1][:4]), random.getstate()[1][:4], dict(os.environ), len(warnings.filters),
                 np.geterr(), sys.getrecursionlimit())
before = state()
import importlib
for m in sys.argv[1:]:
    importlib.import_module(m)
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
after = state()
assert before == after, [(a, b) for a, b in zip(before, after) if a != b]
print("unchanged")
"""
    mods = [m for m, _ in ALL if not m.startswith(("acoustic_camera.models", "acoustic_camera.kernels.cupy"))
            and m != "acoustic_camera.__main__"]
    r = subprocess.run([sys.executable, "-c", code, *mods], capture_output=True, text=True)
    assert r.returncode == 0 and "unchanged" in r.stdout, r.stderr[-3000:]
