"""Every camera raw file under ../shared/data decodes and makes its products."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from panoptes_network.frames.camera import bayer_slices
from panoptes_network.raw.decode import RAW_EXTENSIONS, decode_raw
from panoptes_network.raw.products import make_raw_products
from tests.conftest import DATA_DIR as PANOPTES_DATA_DIR

DATA_DIR = PANOPTES_DATA_DIR.parent
RAW_FILES = (
    sorted(p for p in DATA_DIR.rglob("*") if p.suffix.lower() in RAW_EXTENSIONS)
    if DATA_DIR.is_dir()
    else []
)
# A bucket path for the products' cards (the files' own names need not follow the grammar).
OBJECT = "PAN001/14d3bd/20160909T081152/20160909T081314.cr2"


def _skip_reason() -> str:
    if not DATA_DIR.is_dir():
        return f"{DATA_DIR} is absent: no shared raw files to read"
    return f"no camera raw file ({', '.join(RAW_EXTENSIONS)}) under {DATA_DIR}"


@pytest.mark.skipif(not RAW_FILES, reason=_skip_reason())
@pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is missing (Debian: apt-get install libimage-exiftool-perl)",
)
@pytest.mark.parametrize("path", RAW_FILES, ids=[p.name for p in RAW_FILES])
def test_shared_raw_file_makes_its_products(path: Path) -> None:
    data = path.read_bytes()
    frame = decode_raw(data, str(path))
    assert frame.bayer.dtype == np.uint16 and frame.bayer.ndim == 2
    slices = bayer_slices(frame.pattern, frame.bayer.shape)
    for colour in "RGB":
        assert all(frame.bayer[s].size for s in slices[colour])
    products = make_raw_products(data, str(path), OBJECT)
    with fits.open(io.BytesIO(products.bayer_fits), checksum=True) as hdus:
        np.testing.assert_array_equal(hdus[0].data, frame.bayer)
        assert hdus[0].header["FILTER"] == frame.pattern
    with fits.open(io.BytesIO(products.rgb_fits)) as hdus:
        assert hdus[1].data.shape == (3, *frame.bayer.shape)
    with Image.open(io.BytesIO(products.preview_jpeg)) as image:
        assert image.format == "JPEG" and image.width == 1200
