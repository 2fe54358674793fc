"""What a person looks at: acoustic images over the video as MP4 or PNG (:mod:`.render`) and
plots of the array and of a pixel's spectrum (:mod:`.plots`)."""

from .._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {"RenderOptions": "render", "overlay_frame": "render",
            "plot_array": "plots", "plot_spectrum": "plots"})
