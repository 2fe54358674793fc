"""The pipeline's one-pass features equal the reference formulas (mfcc, band_energy_db)."""

import numpy as np
import pytest

from acoustic_camera import AcamError
from acoustic_camera.beamform.features import MfccSpec, band_energy_db, mfcc, mfcc_and_energy


@pytest.mark.parametrize("freqs", [np.arange(512) * 12288 / 1024, 12.5 * np.arange(512)], ids=["12288Hz", "dualcam-code"])
def test_one_pass_features_equal_the_reference(freqs):
    rng = np.random.default_rng(0)
    # powers spanning the floor: many pixels fall below 1e-3 in some filters
    vol = rng.gamma(0.5, 1e-3, (3, 7, 9, 512)).astype(np.float32)
    vol[0, 0, 0] = 0.0  # silence: every filter at the floor, energy at -300 dB
    m, e = mfcc_and_energy(vol, freqs, MfccSpec(), (900.0, None))
    assert m.shape == (3, 7, 9, 12) and e.shape == (3, 7, 9) and m.dtype == e.dtype == np.float32
    np.testing.assert_allclose(m, mfcc(vol, freqs), atol=1e-4)
    np.testing.assert_allclose(e, band_energy_db(vol, freqs, (900.0, None)), atol=1e-4)


def test_one_pass_features_refuse_an_empty_band():
    with pytest.raises(AcamError, match="--band 7000:8000: expected a band holding at least one frequency bin"):
        mfcc_and_energy(np.ones((2, 512), np.float32), np.arange(512) * 12.0, band=(7000.0, 8000.0))
