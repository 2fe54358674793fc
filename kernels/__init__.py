"""Beamforming kernels (installed as ``acoustic_camera.kernels``): one backend interface,
the numpy reference as the specification, Numba (CPU) and CuPy (GPU) backends."""
