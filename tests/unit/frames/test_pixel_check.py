"""Unit tests for panoptes_network.frames.pixel_check: the pixel budget and verify_fits_fz.

The references are independent of the code under test: fpack/cfitsio for what a good file
and its sums are, astropy's own checksum verification (``checksum=True`` warnings) for what
a changed sum is, and astropy's decoder for what a corrupt tile is. Files are taken apart
with the small byte-level helpers below, not with the module's own reader.
"""

from __future__ import annotations

import gzip
import io
import math
import shutil
import subprocess
import tracemalloc
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

import panoptes_network.frames.pixel_check as pixel_check
from panoptes_network.frames.camera import SENSOR_SHAPE
from panoptes_network.frames.checksum import encode_checksum
from panoptes_network.frames.compression import (
    CompressionError,
    FrameTooLargeError,
    compress_frame,
    read_image_pixels,
)
from panoptes_network.frames.fits_header import NotFitsError, read_header_from_bytes
from panoptes_network.frames.pixel_check import (
    MAX_FRAME_BYTES,
    MAX_FRAME_PIXELS,
    CorruptPixelsError,
    PixelBudgetError,
    check_pixel_budget,
    verify_fits_fz,
)
from panoptes_network.pipeline.errors import BadInput
from tests.unit.frame_files import unit_frame

BLOCK = 2880
needs_fpack = pytest.mark.skipif(shutil.which("fpack") is None, reason="fpack not installed")


# --------------------------------------------------------------------------------------
# Helpers: files made by astropy and fpack, taken apart byte by byte
# --------------------------------------------------------------------------------------


def astropy_fz(pixels: np.ndarray, checksum: bool = False, **kwargs) -> bytes:
    """A .fits.fz written by astropy (empty primary, compressed image in HDU 1)."""
    kwargs.setdefault("compression_type", "RICE_1")
    header = fits.Header()
    header["EXPTIME"] = 120.0
    out = io.BytesIO()
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(pixels, header=header, **kwargs)])
    hdus.writeto(out, checksum=checksum)
    return out.getvalue()


def fpack(raw: bytes, tmp_path, *flags: str) -> bytes:
    """Compress a .fits file with the real fpack; return the .fits.fz bytes."""
    src = tmp_path / "frame.fits"
    src.write_bytes(raw)
    done = subprocess.run(["fpack", *flags, "-S", str(src)], capture_output=True, check=True)
    return done.stdout


def unit_frame_with_sums(shape: tuple[int, int] = (40, 60)) -> bytes:
    """A unit's uint16 frame written with CHECKSUM/DATASUM (fpack keeps them as Z cards)."""
    with fits.open(io.BytesIO(unit_frame(shape))) as hdus:
        out = io.BytesIO()
        hdus.writeto(out, checksum=True)
    return out.getvalue()


def header_end(data: bytes, start: int) -> int:
    """Offset of the first block after the header that starts at ``start``."""
    position = start
    while position < len(data):
        block = data[position : position + BLOCK]
        position += BLOCK
        for card in range(0, BLOCK, 80):
            if block[card : card + 80].rstrip() == b"END":
                return position
    raise AssertionError("no END card")


@dataclass(frozen=True)
class Layout:
    """Where the compressed HDU's parts are in a .fits.fz."""

    header_start: int
    data_start: int
    heap_start: int
    data_size: int
    header: fits.Header
    tiles: list[tuple[int, int]]  # (first byte in the file, bytes) of each COMPRESSED_DATA


def layout(data: bytes) -> Layout:
    header_start = header_end(data, 0)  # a .fits.fz primary holds no data
    data_start = header_end(data, header_start)
    header = fits.Header.fromstring(data[header_start:data_start].decode("ascii"))
    assert header["ZIMAGE"] is True and header["TTYPE1"] == "COMPRESSED_DATA"
    width, rows = header["NAXIS1"], header["NAXIS2"]
    heap_start = data_start + header.get("THEAP", width * rows)
    kind = ">i4" if header["TFORM1"].lstrip("1").startswith("P") else ">i8"
    item = np.dtype(kind).itemsize
    table = np.frombuffer(data, np.uint8, count=width * rows, offset=data_start)
    pairs = table.reshape(rows, width)[:, : 2 * item].copy().view(kind).reshape(rows, 2)
    tiles = [(heap_start + int(offset), int(count)) for count, offset in pairs]
    return Layout(
        header_start, data_start, heap_start, width * rows + header["PCOUNT"], header, tiles
    )


def set_card(data: bytes, start: int, keyword: str, value: str) -> bytes:
    """Rewrite ``keyword``'s card (value text as FITS writes it) in the header at ``start``."""
    for position in range(start, header_end(data, start), 80):
        if data[position : position + 8].decode("ascii").rstrip() == keyword:
            card = f"{keyword:<8}= {value}".ljust(80).encode("ascii")
            assert len(card) == 80
            return data[:position] + card + data[position + 80 :]
    raise KeyError(keyword)


def fits_sum(data: bytes) -> int:
    """The FITS 32-bit ones' complement sum, written here independently of the module."""
    words = np.frombuffer(data + bytes(-len(data) % 4), dtype=">u4").astype(np.uint64)
    total = int(words.sum())
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def resign(data: bytes, start: int, data_size: int) -> bytes:
    """Recompute DATASUM and CHECKSUM of the HDU whose header starts at ``start``."""
    data_start = header_end(data, start)
    datasum = fits_sum(data[data_start : data_start + data_size + (-data_size % BLOCK)])
    data = set_card(data, start, "DATASUM", f"'{datasum}'")
    data = set_card(data, start, "CHECKSUM", "'0000000000000000'")
    header_sum = fits_sum(data[start:data_start])
    total = header_sum + datasum
    total = (total & 0xFFFFFFFF) + (total >> 32)
    return set_card(data, start, "CHECKSUM", f"'{encode_checksum(total)}'")


def astropy_checksum_warnings(data: bytes) -> list[str]:
    """What astropy's own verification says: the messages it warns with."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(io.BytesIO(data), checksum=True, disable_image_compression=True) as h:
            for hdu in h:
                hdu.header  # noqa: B018 (reading every HDU runs the check)
    return [str(w.message).strip() for w in caught if issubclass(w.category, AstropyUserWarning)]


def astropy_decodes(data: bytes) -> np.ndarray:
    """astropy's reading of the image: the reference decoder."""
    with fits.open(io.BytesIO(data)) as hdus:
        return np.array(hdus[1].data)


def peak_allocation(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak bytes allocated (numpy included) while ``call`` runs, and what it raised."""
    tracemalloc.start()
    error: BaseException | None = None
    try:
        tracemalloc.reset_peak()
        try:
            call()
        except BadInput as exc:
            error = exc
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, error


def pixels_16(shape=(40, 60), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2048 + rng.poisson(200, shape)).astype(np.uint16)


# --------------------------------------------------------------------------------------
# The budget itself
# --------------------------------------------------------------------------------------


def header_of(bitpix: int, *axes: int) -> fits.Header:
    header = fits.Header()
    header["BITPIX"] = bitpix
    header["NAXIS"] = len(axes)
    for number, length in enumerate(axes, start=1):
        header[f"NAXIS{number}"] = length
    return header


def test_budget_is_four_full_frames():
    assert SENSOR_SHAPE == (3476, 5208)
    assert MAX_FRAME_PIXELS == 72_412_032 == 4 * 5208 * 3476
    assert MAX_FRAME_BYTES == 4 * MAX_FRAME_PIXELS


def test_just_at_the_limit_passes_one_pixel_over_fails():
    check_pixel_budget(header_of(16, MAX_FRAME_PIXELS), "line.fits")
    with pytest.raises(PixelBudgetError, match="72,412,032 pixels"):
        check_pixel_budget(header_of(16, MAX_FRAME_PIXELS + 1), "line.fits")


def test_two_by_two_full_frames_pass_one_more_row_fails():
    check_pixel_budget(header_of(16, 2 * 5208, 2 * 3476), "mosaic.fits")
    with pytest.raises(PixelBudgetError, match="10416 x 6953 pixels"):
        check_pixel_budget(header_of(16, 2 * 5208, 2 * 3476 + 1), "mosaic.fits")


def test_byte_budget_counts_bits_per_pixel():
    check_pixel_budget(header_of(32, MAX_FRAME_PIXELS), "int32.fits")  # exactly MAX_FRAME_BYTES
    check_pixel_budget(header_of(-64, MAX_FRAME_PIXELS // 2), "double.fits")
    with pytest.raises(PixelBudgetError, match="64-bit floats") as caught:
        check_pixel_budget(header_of(-64, MAX_FRAME_PIXELS // 2 + 1), "double.fits")
    assert "MB" in caught.value.reason and f"{MAX_FRAME_BYTES:,} bytes" in caught.value.reason


def test_reason_names_the_announced_size():
    with pytest.raises(PixelBudgetError) as caught:
        check_pixel_budget(header_of(16, 16000, 16000), "gs://b/bomb.fits.fz")
    assert caught.value.source == "gs://b/bomb.fits.fz"
    assert caught.value.reason == (
        "announces 16000 x 16000 pixels of 16 bits (512 MB decompressed), more than the "
        "limit of 72,412,032 pixels (4 full frames); not decompressed"
    )
    assert isinstance(caught.value, BadInput)


def test_a_smaller_limit_is_honoured():
    check_pixel_budget(header_of(16, 60, 40), "small.fits", max_pixels=2400)
    with pytest.raises(PixelBudgetError):
        check_pixel_budget(header_of(16, 60, 40), "small.fits", max_pixels=2399)


@pytest.mark.parametrize(
    ("cards", "named"),
    [
        ({"NAXIS1": None}, "NAXIS1"),
        ({"NAXIS2": -1}, "NAXIS2"),
        ({"NAXIS2": 3.5}, "NAXIS2"),
        ({"NAXIS": True}, "NAXIS"),
        ({"BITPIX": 12}, "BITPIX"),
        ({"BITPIX": None}, "BITPIX"),
    ],
)
def test_unknown_size_is_refused(cards, named):
    header = header_of(16, 60, 40)
    for key, value in cards.items():
        if value is None:
            del header[key]
        else:
            header[key] = value
    with pytest.raises(PixelBudgetError, match=named):
        check_pixel_budget(header, "odd.fits")


def test_compressed_table_header_is_read_by_its_z_cards():
    data = astropy_fz(pixels_16())
    table = layout(data).header
    assert (table["NAXIS1"], table["NAXIS2"]) == (8, 40)  # the table: 40 one-row tiles
    assert (table["ZNAXIS1"], table["ZNAXIS2"]) == (60, 40)
    check_pixel_budget(table, "t.fits.fz", max_pixels=2400)
    with pytest.raises(PixelBudgetError, match="60 x 40 pixels"):
        check_pixel_budget(table, "t.fits.fz", max_pixels=2399)
    # the table's own NAXISn do not count: a huge table of a small image passes
    table["NAXIS2"] = MAX_FRAME_PIXELS + 1
    check_pixel_budget(table, "t.fits.fz", max_pixels=2400)
    table["ZBITPIX"] = 12
    with pytest.raises(PixelBudgetError, match="ZBITPIX = 12"):
        check_pixel_budget(table, "t.fits.fz")


def test_repo_reader_header_of_compressed_file_is_the_image():
    data = astropy_fz(pixels_16())
    image = read_header_from_bytes(data)
    assert image.compressed and (image["NAXIS1"], image["NAXIS2"]) == (60, 40)
    check_pixel_budget(image, "t.fits.fz", max_pixels=2400)
    with pytest.raises(PixelBudgetError, match="60 x 40 pixels"):
        check_pixel_budget(image, "t.fits.fz", max_pixels=2399)


# --------------------------------------------------------------------------------------
# Good files pass
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("checksum", [False, True], ids=["no-sums", "sums"])
def test_astropy_file_passes(checksum):
    pixels = pixels_16()
    data = astropy_fz(pixels, checksum=checksum)
    np.testing.assert_array_equal(astropy_decodes(data), pixels)  # the reference reads it
    verified = verify_fits_fz(data, "good.fits.fz")
    assert verified.shape == (40, 60)
    assert verified.bitpix == 16 and verified.compression == "RICE_1"
    assert verified.tiles == 40  # astropy's default: one row per tile
    assert verified.header["EXPTIME"] == 120.0
    assert verified.header["BZERO"] == 32768
    expected = ("HDU 0 DATASUM", "HDU 0 CHECKSUM", "HDU 1 DATASUM", "HDU 1 CHECKSUM")
    assert verified.sums_checked == (expected if checksum else ())


def test_compress_frame_output_passes():
    raw = unit_frame((40, 60))
    verified = verify_fits_fz(compress_frame(raw).data, "unit.fits.fz")
    assert verified.shape == (40, 60)
    assert verified.tiles == 3  # 16-row tiles
    assert verified.header["IMAGEID"] == "PAN001_14d3bd_20180216T112430"


@needs_fpack
@pytest.mark.parametrize("flags", [[], ["-r"], ["-g"], ["-g2"], ["-h"], ["-t", "16,16"]])
def test_fpack_file_passes_with_its_checksums(flags, tmp_path):
    raw = unit_frame((40, 60))
    data = fpack(raw, tmp_path, *flags)
    assert astropy_checksum_warnings(data) == []  # the reference: fpack's sums are right
    with fits.open(io.BytesIO(raw)) as hdus:
        np.testing.assert_array_equal(astropy_decodes(data), hdus[0].data)
    verified = verify_fits_fz(data, "fpacked.fits.fz")
    assert verified.shape == (40, 60)
    assert verified.sums_checked == (
        "HDU 0 DATASUM",
        "HDU 0 CHECKSUM",
        "HDU 1 DATASUM",
        "HDU 1 CHECKSUM",
    )
    assert verified.tiles == len(layout(data).tiles)


@needs_fpack
def test_fpack_zdatasum_is_checked(tmp_path):
    data = fpack(unit_frame_with_sums(), tmp_path)
    assert "ZDATASUM" in layout(data).header  # fpack kept the input's DATASUM
    verified = verify_fits_fz(data, "fpacked.fits.fz", check_zdatasum=True)
    assert verified.sums_checked[-1] == "ZDATASUM"
    assert "ZDATASUM" not in verify_fits_fz(data, "fpacked.fits.fz").sums_checked


@needs_fpack
@pytest.mark.parametrize("shape", [(37, 61), (1, 61), (38, 1)])
def test_zdatasum_over_many_decode_steps(shape, tmp_path):
    # odd widths: 16-bit rows that do not end on 4-byte words, decoded one step per two rows
    data = fpack(unit_frame_with_sums(shape), tmp_path)
    verified = verify_fits_fz(data, "odd.fits.fz", step_bytes=1, check_zdatasum=True)
    assert verified.shape == shape
    assert verified.sums_checked[-1] == "ZDATASUM"


def test_many_steps_decode_the_same_file():
    data = astropy_fz(pixels_16((50, 30)), checksum=True, tile_shape=(4, 30))
    one = verify_fits_fz(data, "a.fits.fz")
    many = verify_fits_fz(data, "a.fits.fz", step_bytes=1)
    assert one == many and many.tiles == 13


def test_decoding_in_steps_bounds_memory():
    pixels = np.zeros((1024, 1024), dtype=np.int16)  # 2 MB decoded, tiny compressed
    data = astropy_fz(pixels)
    assert len(data) < 100_000
    whole, error = peak_allocation(lambda: verify_fits_fz(data, "zeros.fits.fz"))
    assert error is None and whole > pixels.nbytes  # one step holds the whole image
    stepped, error = peak_allocation(
        lambda: verify_fits_fz(data, "zeros.fits.fz", step_bytes=1 << 17)
    )
    assert error is None and stepped < pixels.nbytes / 4


# --------------------------------------------------------------------------------------
# Corrupt tiles
# --------------------------------------------------------------------------------------


def fill_tile(data: bytes, tile: int, fill: int) -> bytes:
    """Overwrite a Rice tile after its first pixel (2 bytes) with ``fill`` bytes."""
    start, size = layout(data).tiles[tile]
    return data[: start + 2] + bytes([fill]) * (size - 2) + data[start + size :]


@pytest.mark.parametrize(("tile", "rows"), [(0, "1-16"), (1, "17-32"), (2, "33-40")])
@pytest.mark.parametrize("step_bytes", [1 << 26, 1], ids=["one-step", "row-steps"])
def test_tile_that_does_not_decode_is_named(tile, rows, step_bytes):
    good = compress_frame(unit_frame((40, 60))).data  # three 16-row tiles, no sums
    bad = fill_tile(good, tile, 0xFF)
    assert len(bad) == len(good)
    with pytest.raises(Exception, match="decompression error"):  # the reference decoder
        astropy_decodes(bad)
    with pytest.raises(CorruptPixelsError) as caught:
        verify_fits_fz(bad, "bad.fits.fz", step_bytes=step_bytes)
    assert caught.value.reason.startswith(f"HDU 1 tile {tile + 1} (image rows {rows}) failed")
    assert "decompression error: hit end of compressed byte stream" in caught.value.reason


def test_leftover_bytes_in_a_tile_are_an_error():
    bad = fill_tile(compress_frame(unit_frame((40, 60))).data, 1, 0x00)
    with pytest.raises(CorruptPixelsError, match="tile 2 .*unused bytes"):
        verify_fits_fz(bad, "bad.fits.fz")


@needs_fpack
def test_square_tiles_name_the_row_of_tiles(tmp_path):
    data = fpack(unit_frame((40, 60)), tmp_path, "-C", "-t", "16,16")  # 4 x 3 tiles
    assert len(layout(data).tiles) == 12
    bad = fill_tile(data, 5, 0xFF)  # second row of tiles
    with pytest.raises(CorruptPixelsError, match=r"tiles 5-8 \(image rows 17-32\)"):
        verify_fits_fz(bad, "bad.fits.fz")


def test_flipped_heap_byte_is_caught_by_datasum():
    good = astropy_fz(pixels_16(), checksum=True)
    start, _ = layout(good).tiles[10]
    bad = good[: start + 1] + bytes([good[start + 1] ^ 0x01]) + good[start + 2 :]
    # the flip is silent to the decoder (the first pixel of a Rice tile is stored raw) ...
    changed = astropy_decodes(bad) != astropy_decodes(good)
    assert changed.any() and changed[10].all() and not changed[:10].any()
    # ... astropy only warns about it ...
    assert any("Datasum verification failed" in w for w in astropy_checksum_warnings(bad))
    with pytest.raises(CorruptPixelsError) as caught:
        verify_fits_fz(bad, "bad.fits.fz")
    assert caught.value.reason.startswith("HDU 1 DATASUM is ")


def test_flipped_heap_byte_without_sums_is_not_claimed_checked():
    good = astropy_fz(pixels_16())
    start, _ = layout(good).tiles[10]
    bad = good[: start + 1] + bytes([good[start + 1] ^ 0x01]) + good[start + 2 :]
    assert (astropy_decodes(bad) != astropy_decodes(good)).any()
    assert verify_fits_fz(bad, "bad.fits.fz").sums_checked == ()  # nothing could tell


@needs_fpack
def test_pixels_changed_under_a_resigned_table_are_caught_by_zdatasum(tmp_path):
    good = fpack(unit_frame_with_sums(), tmp_path)
    parts = layout(good)
    start, _ = parts.tiles[7]
    bad = good[: start + 1] + bytes([good[start + 1] ^ 0x01]) + good[start + 2 :]
    bad = resign(bad, parts.header_start, parts.data_size)
    assert astropy_checksum_warnings(bad) == []  # the table's own sums are valid again
    assert (astropy_decodes(bad) != astropy_decodes(good)).any()
    with pytest.raises(CorruptPixelsError, match="HDU 1 ZDATASUM is .* decoded pixels sum"):
        verify_fits_fz(bad, "bad.fits.fz", check_zdatasum=True)


def test_a_stale_zdatasum_from_the_input_header_is_not_an_error_by_default(panoptes_data):
    """tiny.fits is a cut-out that kept its source frame's DATASUM: fpack copies it on."""
    out = io.BytesIO()
    with fits.open(panoptes_data / "tiny.fits") as hdus:
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(hdus[0].data, hdus[0].header)]).writeto(
            out, checksum=True
        )
    verified = verify_fits_fz(out.getvalue(), "tiny.fits.fz")
    assert "HDU 1 DATASUM" in verified.sums_checked
    with pytest.raises(CorruptPixelsError, match="ZDATASUM"):
        verify_fits_fz(out.getvalue(), "tiny.fits.fz", check_zdatasum=True)


def replace_tile(data: bytes, tile: int, stream: bytes) -> bytes:
    """Give one tile another compressed stream; astropy rewrites the heap and PCOUNT."""
    with fits.open(io.BytesIO(data), disable_image_compression=True) as hdus:
        table = hdus[1]
        table.data["COMPRESSED_DATA"][tile] = np.frombuffer(stream, np.uint8)
        out = io.BytesIO()
        fits.HDUList([hdus[0], table]).writeto(out)
    return out.getvalue()


def test_nan_producing_corruption_is_refused():
    pixels = np.random.default_rng(3).normal(100, 5, (20, 30)).astype(np.float32)
    good = astropy_fz(pixels, compression_type="GZIP_1", quantize_level=0.0)  # lossless
    np.testing.assert_array_equal(astropy_decodes(good), pixels)
    verify_fits_fz(good, "float.fits.fz")
    spoiled = pixels[4].astype(">f4")
    spoiled[7] = np.nan
    bad = replace_tile(good, 4, gzip.compress(spoiled.tobytes()))
    assert np.isnan(astropy_decodes(bad)[4, 7])
    with pytest.raises(CorruptPixelsError, match="1 NaN pixel.*row 5, column 8"):
        verify_fits_fz(bad, "bad.fits.fz")
    assert verify_fits_fz(bad, "bad.fits.fz", allow_nan=True).shape == (20, 30)


def test_blank_pixels_are_refused_unless_allowed():
    pixels = np.random.default_rng(4).normal(100, 5, (20, 30)).astype(np.float32)
    pixels[7, 11] = np.nan
    data = astropy_fz(pixels)  # quantised Rice: the NaN is stored as ZBLANK
    assert np.isnan(astropy_decodes(data)[7, 11])
    with pytest.raises(CorruptPixelsError, match="row 8, column 12"):
        verify_fits_fz(data, "blank.fits.fz")
    verify_fits_fz(data, "blank.fits.fz", allow_nan=True)


@pytest.mark.parametrize("category", [AstropyUserWarning, RuntimeWarning])
def test_warning_while_decoding_is_an_error(category, monkeypatch):
    data = compress_frame(unit_frame((40, 60))).data
    verify_fits_fz(data, "good.fits.fz")
    section = fits.CompImageHDU.section.fget

    class WarningSection:
        def __init__(self, hdu):
            self.inner = section(hdu)

        def __getitem__(self, index):
            if index.start <= 20 < index.stop:  # image row 21: the second tile
                warnings.warn("corrupt data in tile", category, stacklevel=1)
            return self.inner[index]

    monkeypatch.setattr(fits.CompImageHDU, "section", property(WarningSection))
    with pytest.raises(CorruptPixelsError) as caught:
        verify_fits_fz(data, "warned.fits.fz")
    assert caught.value.reason == (
        f"HDU 1 tile 2 (image rows 17-32) warned when decoded: {category.__name__}: "
        "corrupt data in tile"
    )


# --------------------------------------------------------------------------------------
# Wrong stored sums
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value", "astropy_says"),
    [
        ("DATASUM", "'123456789'", "Datasum verification failed"),
        ("CHECKSUM", "'AAAAAAAAAAAAAAAA'", "Checksum verification failed"),
    ],
)
def test_wrong_table_sum_is_named(keyword, value, astropy_says):
    good = astropy_fz(pixels_16(), checksum=True)
    bad = set_card(good, layout(good).header_start, keyword, value)
    assert len(bad) == len(good)
    assert any(
        astropy_says in w and "COMPRESSED_IMAGE" in w for w in astropy_checksum_warnings(bad)
    )
    np.testing.assert_array_equal(astropy_decodes(bad), pixels_16())  # pixels are intact
    with pytest.raises(CorruptPixelsError) as caught:
        verify_fits_fz(bad, "bad.fits.fz")
    assert caught.value.reason.startswith(f"HDU 1 {keyword}")


def test_wrong_primary_checksum_is_named():
    good = astropy_fz(pixels_16(), checksum=True)
    bad = set_card(good, 0, "CHECKSUM", "'AAAAAAAAAAAAAAAA'")
    assert any("PRIMARY" in w for w in astropy_checksum_warnings(bad))
    with pytest.raises(CorruptPixelsError) as caught:
        verify_fits_fz(bad, "bad.fits.fz")
    assert caught.value.reason.startswith("HDU 0 CHECKSUM 'AAAAAAAAAAAAAAAA' does not match")


def test_datasum_that_is_not_a_number_is_named():
    good = astropy_fz(pixels_16(), checksum=True)
    bad = set_card(good, layout(good).header_start, "DATASUM", "'twelve'")
    with pytest.raises(CorruptPixelsError, match="DATASUM = 'twelve' is not a number"):
        verify_fits_fz(bad, "bad.fits.fz")


# --------------------------------------------------------------------------------------
# Broken structure
# --------------------------------------------------------------------------------------


def test_truncated_file_is_refused():
    data = astropy_fz(pixels_16())
    parts = layout(data)
    with pytest.raises(CorruptPixelsError, match="truncated"):
        verify_fits_fz(data[: parts.data_start + parts.data_size - 1], "cut.fits.fz")


def test_table_with_a_row_too_few_is_refused():
    data = astropy_fz(pixels_16())
    bad = set_card(data, layout(data).header_start, "ZTILE2", f"{2:>20}")  # 20 tiles, 40 rows
    with pytest.raises(CorruptPixelsError, match="40 table rows for 20 tiles"):
        verify_fits_fz(bad, "bad.fits.fz")


def test_tile_pointing_outside_the_heap_is_refused():
    data = astropy_fz(pixels_16())
    parts = layout(data)
    row = parts.data_start + 8 * 39  # the last descriptor: (count, offset) big-endian int32
    bad = data[: row + 4] + np.array([10**6], ">i4").tobytes() + data[row + 8 :]
    with pytest.raises(CorruptPixelsError, match="tile 40 .*outside the"):
        verify_fits_fz(bad, "bad.fits.fz")


def test_plain_image_is_not_a_fits_fz():
    with pytest.raises(NotFitsError, match="HDU 1 does not exist"):
        verify_fits_fz(unit_frame(), "plain.fits")
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(pixels_16())]).writeto(out)
    with pytest.raises(CorruptPixelsError, match="HDU 1 is not a tile-compressed image"):
        verify_fits_fz(out.getvalue(), "extension.fits")


# --------------------------------------------------------------------------------------
# Bombs: small files that would allocate a lot
# --------------------------------------------------------------------------------------


def test_edited_header_bomb_is_refused_with_bounded_memory():
    data = astropy_fz(pixels_16((16, 16)))
    start = layout(data).header_start
    bomb = set_card(data, start, "ZNAXIS1", f"{16000:>20}")
    bomb = set_card(bomb, start, "ZNAXIS2", f"{16000:>20}")
    assert len(bomb) < 20_000
    with fits.open(io.BytesIO(bomb)) as hdus:  # what astropy would allocate for .data
        assert hdus[1].section.shape == (16000, 16000)
        assert math.prod(hdus[1].section.shape) * hdus[1].section.dtype.itemsize == 512_000_000
    peak, error = peak_allocation(lambda: verify_fits_fz(bomb, "bomb.fits.fz"))
    assert isinstance(error, PixelBudgetError)
    assert error.reason.startswith("announces 16000 x 16000 pixels of 16 bits (512 MB")
    assert peak < 1_000_000


@needs_fpack
def test_real_fpack_bomb_is_refused_with_bounded_memory(tmp_path):
    # A genuine 16000 x 16000 frame of zeros, written sparse and fpacked: about 4 MB.
    header = header_of(16, 16000, 16000)
    header.insert(0, ("SIMPLE", True))
    text = header.tostring().encode("ascii")
    src = tmp_path / "zeros.fits"
    with src.open("wb") as handle:
        handle.write(text)
        handle.truncate(len(text) + 16000 * 16000 * 2)
    bomb = subprocess.run(["fpack", "-S", str(src)], capture_output=True, check=True).stdout
    assert len(bomb) < 5_000_000
    assert layout(bomb).header["ZNAXIS1"] == 16000
    peak, error = peak_allocation(lambda: verify_fits_fz(bomb, "bomb.fits.fz"))
    assert isinstance(error, PixelBudgetError), error
    assert "16000 x 16000 pixels" in error.reason
    assert peak < 1_000_000  # the brief allowed 64 MB; the header read needs a few kB


def gzip_of_zeros(size: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)  # the gzip format, as FITS GZIP_1
    parts = [deflate.compress(bytes(1 << 20)) for _ in range(size >> 20)]
    return b"".join([*parts, deflate.flush()])


def test_gzip_tile_bomb_is_refused_with_bounded_memory():
    good = astropy_fz(np.zeros((16, 16), np.int16), compression_type="GZIP_1", tile_shape=(16, 16))
    verify_fits_fz(good, "good.fits.fz")
    stream = gzip_of_zeros(32 << 20)
    assert len(gzip.decompress(stream)) == 32 << 20  # 32 MB for a 512-byte tile
    bomb = replace_tile(good, 0, stream)
    assert len(bomb) < 100_000
    peak, error = peak_allocation(lambda: verify_fits_fz(bomb, "bomb.fits.fz"))
    assert isinstance(error, CorruptPixelsError), error
    assert error.reason.startswith("HDU 1 tile 1 inflates to more than 512 bytes")
    assert peak < 8_000_000
    astropy_peak, _ = peak_allocation(lambda: pytest.raises(ValueError, astropy_decodes, bomb))
    assert astropy_peak > 32 << 20  # what the check spared


def test_broken_gzip_tile_is_named():
    good = astropy_fz(np.zeros((16, 16), np.int16), compression_type="GZIP_1", tile_shape=(8, 16))
    stream = gzip.compress(bytes(256))
    bad = replace_tile(good, 1, stream[:-12])
    with pytest.raises(CorruptPixelsError, match="tile 2: GZIP stream is truncated"):
        verify_fits_fz(bad, "bad.fits.fz")
    bad = replace_tile(good, 1, b"\x1f\x8b" + bytes(30))
    with pytest.raises(CorruptPixelsError, match="tile 2 is not a valid GZIP stream"):
        verify_fits_fz(bad, "bad.fits.fz")


# --------------------------------------------------------------------------------------
# The plain-FITS budget in read_image_pixels
# --------------------------------------------------------------------------------------


def test_read_image_pixels_budget_at_and_over_the_limit():
    raw = unit_frame((40, 60))
    _, pixels = read_image_pixels(raw, "unit.fits", max_pixels=2400)
    assert pixels.shape == (40, 60)
    with pytest.raises(FrameTooLargeError) as caught:
        read_image_pixels(raw, "unit.fits", max_pixels=2399)
    assert caught.value.reason.startswith("announces 60 x 40 pixels of 16 bits")
    assert isinstance(caught.value, CompressionError)  # what compress-fits quarantines
    assert isinstance(caught.value, PixelBudgetError)


def test_plain_fits_bomb_is_refused_before_reading():
    header = header_of(16, 16000, 16000)
    header.insert(0, ("SIMPLE", True))
    head = header.tostring().encode("ascii")  # the header alone: no pixels at all
    assert read_header_from_bytes(head)["NAXIS1"] == 16000
    peak, error = peak_allocation(lambda: compress_frame(head, "bomb.fits"))
    assert isinstance(error, FrameTooLargeError), error  # not "truncated": the size is named
    assert "16000 x 16000 pixels" in error.reason
    assert peak < 1_000_000


def test_default_budget_lets_a_full_frame_through():
    header = header_of(16, SENSOR_SHAPE[1], SENSOR_SHAPE[0])
    check_pixel_budget(header, "full.fits")
    assert pixel_check.MAX_FRAME_PIXELS // (SENSOR_SHAPE[0] * SENSOR_SHAPE[1]) == 4
