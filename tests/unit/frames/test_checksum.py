"""Checksums written by uint16_frame_bytes verify with astropy (an independent reader)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from astropy.io import fits

from panoptes_network.frames.checksum import ones_complement_sum, uint16_frame_bytes


def header_for(shape):
    def make(checksum: str, datasum: str) -> fits.Header:
        return fits.Header(
            [
                ("SIMPLE", True),
                ("BITPIX", 16),
                ("NAXIS", 2),
                ("NAXIS1", shape[1]),
                ("NAXIS2", shape[0]),
                ("BSCALE", 1),
                ("BZERO", 32768),
                ("EXPTIME", 120.0),
                ("CHECKSUM", checksum),
                ("DATASUM", datasum),
            ]
        )

    return make


@pytest.mark.parametrize("shape", [(1, 1), (37, 53), (480, 640)])
def test_frames_verify_with_astropy_and_keep_pixels(shape):
    pixels = np.random.default_rng(1).integers(0, 65536, shape, dtype=np.uint16)
    data = uint16_frame_bytes(pixels, header_for(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns on a bad checksum
        with fits.open(io.BytesIO(data), checksum=True) as hdus:
            np.testing.assert_array_equal(hdus[0].data, pixels)
    corrupted = bytearray(data)
    corrupted[len(header_for(shape)("0" * 16, "0").tostring())] ^= 0x01  # first pixel byte
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(bytes(corrupted)), checksum=True) as hdus:
            assert hdus[0].data.shape == shape
    assert any("verification failed" in str(w.message) for w in caught)


def test_ones_complement_sum_folds_carries():
    words = np.array([0xFFFFFFFF, 0x00000002], dtype=">u4").tobytes()
    assert ones_complement_sum(words) == 0x00000002  # 0xFFFFFFFF + 2 = 1_00000001 -> fold -> 2
