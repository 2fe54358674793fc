"""The device: where the microphones are (:mod:`.geometry`), the camera beside them
(:mod:`.camera`), the acoustic image's look grid that ties the two together (:mod:`.grid`),
and the analysis (:mod:`.beampattern`) and design (:mod:`.design`) of array layouts."""

from .._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "ArrayGeometry": "geometry", "load_geometry": "geometry", "preset": "geometry", "PRESETS": "geometry",
    "Camera": "camera", "LookGrid": "grid", "make_grid": "grid",
})
