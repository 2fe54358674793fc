"""From samples to acoustic images: the frames' spectra (:mod:`.spectra`), the steering of each
look point (:mod:`.steering`), the filter-and-sum beamformer over a kernel backend
(:mod:`.beamformer`), MFCC and band-energy features (:mod:`.features`), the pipeline that
turns a whole session into its acoustic file (:mod:`.pipeline`), and the short-time
cross-spectral methods (:mod:`.methods`: diagonal removal, functional, Capon, CLEAN-SC), and
listening to one look point (:mod:`.listen`: delay-and-sum or MVDR audio)."""

from .._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "Beamformer": "beamformer", "beamform_session": "pipeline", "mfcc": "features",
    "band_energy_db": "features", "MfccSpec": "features", "STEERING": "steering",
    "METHODS": "methods", "MethodSpec": "methods", "band_maps": "methods", "iter_band_maps": "methods",
    "MethodStream": "methods",
    "WEIGHTINGS": "methods", "listen": "listen", "ListenSpec": "listen", "LISTEN_METHODS": "listen",
    "si_sdr": "listen",
})
