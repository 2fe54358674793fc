"""Array and camera calibration (installed as ``acoustic_camera.calibration``)."""
