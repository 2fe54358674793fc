"""Lazy re-exports for the sub-packages' ``__init__``: ``from acoustic_camera.sim import
SimConfig`` works without importing every module of the sub-package (and its heavy
dependencies) up front."""

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str]):
    """``(__getattr__, __all__)`` for a package whose names live in its modules:
    ``exports`` maps each name to the module (relative to ``package``) that defines it."""

    def __getattr__(name):
        if name in exports:
            return getattr(import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)
