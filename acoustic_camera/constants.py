"""Physical constants and defaults: the one place each of them is defined.

Every module that needs the speed of sound, the DualCam's frame size or the default camera
imports it from here, so that the simulator, the beamformer, the importers and the models can
never disagree about them.
"""

from __future__ import annotations

import math

# -- physics --------------------------------------------------------------------------------
SPEED_OF_SOUND = 343.0
"""Speed of sound in air at about 20 degrees C, m/s."""

P_REF = 20e-6
"""Reference pressure of sound pressure levels (dB SPL), Pa."""

# -- the reference device: IIT's DualCam ------------------------------------------------------
DUALCAM_MICS = 128
DUALCAM_SAMPLES_PER_FRAME = 1024
"""Audio samples per video frame in the DualCam recordings (one ``A_%06d.dc`` file)."""
DUALCAM_FPS = 12.0
DUALCAM_SAMPLE_FREQ = DUALCAM_FPS * DUALCAM_SAMPLES_PER_FRAME
"""12,288 Hz: 1024 samples per 12 fps frame (the paper's '12 kHz')."""
DUALCAM_BROKEN_MICS = (79, 105)
"""Microphones flagged broken in the published DualCam recordings (0-based)."""

# -- capture defaults -----------------------------------------------------------------------
SAMPLE_FREQ = 12000.0
"""Default audio rate of a capture, Hz (``--rate``; 12288 is the recorded DualCam rate)."""
VIDEO_FPS = DUALCAM_FPS
"""Default video frame rate of a capture."""

# -- the default camera: DualCam-like -------------------------------------------------------
CAMERA_WIDTH, CAMERA_HEIGHT = 640, 480
CAMERA_HFOV_DEG = 60.0
CAMERA_FOCAL_PX = (CAMERA_WIDTH / 2) / math.tan(math.radians(CAMERA_HFOV_DEG / 2))
"""fx = fy = 320 / tan(30 deg) = 554.26 px."""

MARKER_DICTIONARY = "DICT_4X4_50"
"""OpenCV ArUco dictionary of the markers a registration source carries (drawn by the simulator,
found by ``acam calibrate register``)."""

# -- acoustic images ------------------------------------------------------------------------
NFFT = 1024
"""Samples per acoustic frame (one window per video frame) and FFT size: 512 bins are kept."""
WINDOW = "tukey0.75"
"""The frame window, as in the DualCam pipeline."""
GRID_SHAPE = (36, 48)
"""Acoustic image rows x columns: one cell per 13.3 x 13.3 pixels of a 640 x 480 picture."""
FOCUS_DISTANCE = 3.0
"""Metres to the focus plane: a person a few steps in front of the array."""
ENERGY_BAND = (900.0, None)
"""Default band of the energy maps, Hz (None: up to the top bin)."""
