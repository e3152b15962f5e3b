"""Unit tests for panoptes_network.frames.compression, checked with astropy and funpack."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.fits.hdu.compressed._codecs import Rice1

from panoptes_network.frames import compression
from panoptes_network.frames.compression import (
    MAX_WORKERS,
    TILE_ROWS,
    CompressedFrame,
    CompressionError,
    compress_frame,
    default_workers,
    verify_compressed,
)
from panoptes_network.frames.fits_header import BLOCK_SIZE, NotFitsError, read_header_from_bytes
from panoptes_network.frames.stored_frame import UnreadableFrame, read_stored_frame

STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "PCOUNT"}
STRUCTURAL |= {"GCOUNT", "BZERO", "BSCALE"}
COMMENTARY = {"COMMENT", "HISTORY", ""}

needs_funpack = pytest.mark.skipif(shutil.which("funpack") is None, reason="funpack not installed")


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def native(pixels: np.ndarray) -> np.ndarray:
    """The same values in native byte order (astropy gives big-endian unscaled data)."""
    return np.asarray(pixels, dtype=pixels.dtype.newbyteorder("="))


def read_input(raw: bytes) -> tuple[fits.Header, np.ndarray]:
    """The reference: astropy's header and scaled pixels of the uncompressed input."""
    with fits.open(io.BytesIO(raw)) as hdul:
        return hdul[0].header.copy(), native(hdul[0].data)


def read_output(data: bytes) -> tuple[fits.Header, np.ndarray]:
    with fits.open(io.BytesIO(data)) as hdul:
        assert len(hdul) == 2
        assert hdul[0].data is None
        assert isinstance(hdul[1], fits.CompImageHDU)
        return hdul[1].header.copy(), native(hdul[1].data)


def table_header(data: bytes) -> fits.Header:
    with fits.open(io.BytesIO(data), disable_image_compression=True) as hdul:
        return hdul[1].header.copy()


def assert_cards_kept(source: fits.Header, restored: fits.Header, skip=STRUCTURAL) -> None:
    for card in source.cards:
        if card.keyword in skip or card.keyword in COMMENTARY:
            continue
        assert card.keyword in restored, card.keyword
        assert restored[card.keyword] == card.value, card.keyword
        assert type(restored[card.keyword]) is type(card.value), card.keyword


def card(keyword: str, value: str) -> str:
    return f"{keyword:<8}= {value:>20}".ljust(80)


def hand_written(pixels: np.ndarray, bitpix: int, extra: list[str]) -> bytes:
    """A primary image file written byte by byte (big-endian, no scaling applied)."""
    ny, nx = pixels.shape
    cards = [
        card("SIMPLE", "T"),
        card("BITPIX", str(bitpix)),
        card("NAXIS", "2"),
        card("NAXIS1", str(nx)),
        card("NAXIS2", str(ny)),
        *extra,
        "END".ljust(80),
    ]
    text = "".join(cards)
    head = text.ljust(-(-len(text) // BLOCK_SIZE) * BLOCK_SIZE).encode("ascii")
    dtype = {8: ">u1", 16: ">i2", 32: ">i4"}[bitpix]
    body = pixels.astype(dtype).tobytes()
    return head + body + b"\0" * (-len(body) % BLOCK_SIZE)


def astropy_written(pixels: np.ndarray, **cards) -> bytes:
    header = fits.Header()
    header["EXPTIME"] = 120.0
    for key, value in cards.items():
        header[key] = value
    out = io.BytesIO()
    fits.PrimaryHDU(pixels, header=header).writeto(out)
    return out.getvalue()


def recompress(data: np.ndarray, header: fits.Header, **kwargs) -> bytes:
    image_header = fits.Header([c for c in header.cards if c.keyword not in STRUCTURAL])
    kwargs.setdefault("compression_type", "RICE_1")
    hdu = fits.CompImageHDU(data, header=image_header, **kwargs)
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out)
    return out.getvalue()


# --------------------------------------------------------------------------------------
# Real frames
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["tiny.fits", "unsolved.fits", "noheader.fits"])
def real(request, panoptes_data):
    raw = (panoptes_data / request.param).read_bytes()
    return request.param, raw, compress_frame(raw, request.param)


def test_real_round_trip_pixels(real):
    name, raw, frame = real
    header, pixels = read_input(raw)
    assert pixels.dtype == np.uint16  # BITPIX 16, BZERO 32768
    out_header, restored = read_output(frame.data)
    assert restored.dtype == np.uint16
    assert restored.shape == pixels.shape
    np.testing.assert_array_equal(restored, pixels)  # exact: lossless
    verify_compressed(raw, frame.data, name)


def test_real_round_trip_header(real):
    name, raw, frame = real
    header, _ = read_input(raw)
    out_header, _ = read_output(frame.data)
    assert_cards_kept(header, out_header)
    # the image keywords describe the same image
    assert out_header["BITPIX"] == header["BITPIX"]
    assert out_header["NAXIS"] == 2
    assert (out_header["NAXIS1"], out_header["NAXIS2"]) == (header["NAXIS1"], header["NAXIS2"])
    assert out_header.get("BZERO") == header.get("BZERO")
    # our own header reader sees the same image header as astropy
    ours = read_header_from_bytes(frame.data)
    assert ours.compressed and ours.hdu == 1
    for key in out_header:
        if key not in COMMENTARY:
            assert ours[key] == out_header[key], key


def test_real_every_input_card_is_kept(real):
    """Every card comes back, SIMPLE included; EXTEND is documented as not carried."""
    _, raw, frame = real
    header, _ = read_input(raw)
    out_header, _ = read_output(frame.data)
    assert_cards_kept(header, out_header, skip={"EXTEND"})
    assert "EXTEND" not in out_header


def test_real_compressed_structure(real):
    _, raw, frame = real
    _, pixels = read_input(raw)
    table = table_header(frame.data)
    assert table["ZIMAGE"] is True
    assert table["ZCMPTYPE"] == "RICE_1"
    assert table.get("ZQUANTIZ", "NO_DITHER") == "NO_DITHER"  # no quantisation: lossless
    assert table["ZBITPIX"] == 16
    assert (table["ZNAXIS1"], table["ZNAXIS2"]) == (pixels.shape[1], pixels.shape[0])
    assert table["ZTILE1"] == pixels.shape[1]
    assert table["ZTILE2"] == min(TILE_ROWS, pixels.shape[0])


def test_real_frame_fields(real):
    _, raw, frame = real
    _, pixels = read_input(raw)
    assert isinstance(frame, CompressedFrame)
    assert frame.input_size == len(raw)
    assert tuple(frame.shape) == pixels.shape
    assert frame.ratio == pytest.approx(len(raw) / len(frame.data))
    assert frame.ratio > 1.2  # real 12-bit sky frames compress well
    assert len(frame.data) % BLOCK_SIZE == 0


@needs_funpack
def test_real_funpack_reads_the_output(real, tmp_path):
    name, raw, frame = real
    _, pixels = read_input(raw)
    header, _ = read_input(raw)
    restored_header, restored = _funpack(frame.data, tmp_path)
    assert restored.dtype == np.uint16
    np.testing.assert_array_equal(restored, pixels)
    assert_cards_kept(header, restored_header, skip=STRUCTURAL | {"CHECKSUM", "DATASUM"})


@needs_funpack
def test_real_funpack_restores_the_primary_image(real, tmp_path):
    _, raw, frame = real
    path = tmp_path / "frame.fits.fz"
    path.write_bytes(frame.data)
    out = tmp_path / "frame.fits"
    subprocess.run(["funpack", "-O", str(out), str(path)], check=True, capture_output=True)
    with fits.open(out) as hdul:
        assert hdul[0].data is not None


def _funpack(data: bytes, tmp_path) -> tuple[fits.Header, np.ndarray]:
    """Run funpack on the bytes; return the header and pixels of the HDU holding the image."""
    path = tmp_path / "frame.fits.fz"
    path.write_bytes(data)
    out = tmp_path / "frame.fits"
    out.unlink(missing_ok=True)
    subprocess.run(["funpack", "-O", str(out), str(path)], check=True, capture_output=True)
    with fits.open(out) as hdul:
        images = [h for h in hdul if h.data is not None]
        assert len(images) == 1
        return images[0].header.copy(), native(images[0].data)


# --------------------------------------------------------------------------------------
# Synthetic integer images
# --------------------------------------------------------------------------------------


def _int16_pixels() -> np.ndarray:
    rng = np.random.default_rng(3)
    pixels = rng.integers(-32768, 32768, size=(37, 53), dtype=np.int64).astype(np.int16)
    pixels[0, 0], pixels[0, 1], pixels[-1, -1] = -32768, 32767, 0
    return pixels


def _uint8_pixels() -> np.ndarray:
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, size=(20, 33), dtype=np.int64).astype(np.uint8)
    pixels[0, 0], pixels[0, 1] = 0, 255
    return pixels


def _uint16_pixels() -> np.ndarray:
    rng = np.random.default_rng(5)
    pixels = (2048 + rng.poisson(300, size=(50, 40))).astype(np.uint16)
    pixels[0, 0], pixels[0, 1] = 0, 65535
    return pixels


def _int32_pixels() -> np.ndarray:
    rng = np.random.default_rng(6)
    pixels = rng.integers(-(2**31), 2**31, size=(17, 9), dtype=np.int64).astype(np.int32)
    pixels[0, 0], pixels[0, 1] = -(2**31), 2**31 - 1
    return pixels


SYNTHETIC = {
    # int16 with an explicit BZERO = 0 and BSCALE = 1, written by hand
    "int16-bzero0": lambda: hand_written(
        _int16_pixels(), 16, [card("BZERO", "0"), card("BSCALE", "1"), card("EXPTIME", "30.")]
    ),
    # int16 as astropy writes it (no BZERO card)
    "int16-astropy": lambda: astropy_written(_int16_pixels()),
    "uint8-hand": lambda: hand_written(_uint8_pixels(), 8, [card("EXPTIME", "5")]),
    "uint8-astropy": lambda: astropy_written(_uint8_pixels()),
    "uint16-astropy": lambda: astropy_written(_uint16_pixels(), OBJECT="O'HARA", FIELD=""),
    "int32-astropy": lambda: astropy_written(_int32_pixels()),
    "single-row": lambda: astropy_written(_uint16_pixels()[:1]),
    "single-column": lambda: astropy_written(_uint16_pixels()[:, :1]),
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_round_trip(name):
    raw = SYNTHETIC[name]()
    header, pixels = read_input(raw)
    frame = compress_frame(raw, name)
    out_header, restored = read_output(frame.data)
    assert restored.dtype == pixels.dtype
    np.testing.assert_array_equal(restored, pixels)
    assert_cards_kept(header, out_header)
    verify_compressed(raw, frame.data, name)
    assert tuple(frame.shape) == pixels.shape
    table = table_header(frame.data)
    assert table["ZCMPTYPE"] == "RICE_1"
    assert table["ZTILE2"] == min(TILE_ROWS, pixels.shape[0])


def test_synthetic_dtypes_are_what_the_test_means():
    # guards: the inputs really are what their names say
    assert read_input(SYNTHETIC["int16-bzero0"]())[0]["BZERO"] == 0
    assert read_input(SYNTHETIC["int16-bzero0"]())[1].dtype == np.int16
    assert read_input(SYNTHETIC["uint8-hand"]())[0]["BITPIX"] == 8
    assert read_input(SYNTHETIC["uint8-hand"]())[1].dtype == np.uint8
    assert read_input(SYNTHETIC["uint16-astropy"]())[0]["BZERO"] == 32768


@needs_funpack
@pytest.mark.parametrize("name", ["int16-bzero0", "uint8-hand", "uint16-astropy", "int32-astropy"])
def test_synthetic_funpack(name, tmp_path):
    raw = SYNTHETIC[name]()
    _, pixels = read_input(raw)
    _, restored = _funpack(compress_frame(raw).data, tmp_path)
    assert restored.dtype == pixels.dtype
    np.testing.assert_array_equal(restored, pixels)


# --------------------------------------------------------------------------------------
# verify_compressed catches differences
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_frame(panoptes_data):
    raw = (panoptes_data / "tiny.fits").read_bytes()
    frame = compress_frame(raw, "tiny.fits")
    header, pixels = read_output(frame.data)
    return raw, frame, header, pixels


def test_verify_accepts_an_independent_recompression(tiny_frame):
    # control for the tests below: astropy's own recompression of the same pixels passes
    raw, _, header, pixels = tiny_frame
    verify_compressed(raw, recompress(pixels, header), "tiny.fits")


@pytest.mark.parametrize("where", [(0, 0), (5, 7), (-1, -1), (100, 13)])
def test_verify_rejects_one_altered_pixel(tiny_frame, where):
    raw, _, header, pixels = tiny_frame
    altered = pixels.copy()
    altered[where] = altered[where] + 1 if altered[where] < 65535 else altered[where] - 1
    assert np.count_nonzero(altered != pixels) == 1
    bad = recompress(altered, header)
    with fits.open(io.BytesIO(bad)) as hdul:  # guard: the change survived recompression
        assert np.count_nonzero(hdul[1].data != pixels) == 1
    with pytest.raises(CompressionError, match="pixels differ"):
        verify_compressed(raw, bad, "tiny.fits")


def test_verify_rejects_a_changed_card(tiny_frame):
    raw, _, header, pixels = tiny_frame
    changed = header.copy()
    changed["EXPTIME"] = header["EXPTIME"] + 1
    with pytest.raises(CompressionError, match="EXPTIME"):
        verify_compressed(raw, recompress(pixels, changed), "tiny.fits")


@pytest.mark.parametrize("keyword", ["FIELD", "DATE-OBS", "MOONFRAC", "WBRGGB"])
def test_verify_rejects_a_missing_card(tiny_frame, keyword):
    raw, _, header, pixels = tiny_frame
    missing = header.copy()
    del missing[keyword]
    with pytest.raises(CompressionError, match=keyword):
        verify_compressed(raw, recompress(pixels, missing), "tiny.fits")


def test_verify_rejects_a_card_whose_type_changed(tiny_frame):
    raw, _, header, pixels = tiny_frame
    changed = header.copy()
    changed["FIELD"] = "KIC 8462853"
    with pytest.raises(CompressionError, match="FIELD"):
        verify_compressed(raw, recompress(pixels, changed), "tiny.fits")


def test_verify_rejects_a_different_shape(tiny_frame):
    raw, _, header, pixels = tiny_frame
    with pytest.raises(CompressionError, match="shape"):
        verify_compressed(raw, recompress(pixels[:-1], header), "tiny.fits")


def test_verify_rejects_lossy_float_compression(tiny_frame):
    raw, _, header, pixels = tiny_frame
    lossy = recompress(pixels.astype(np.float32) + 0.3, header)
    with pytest.raises(CompressionError, match="pixels differ"):
        verify_compressed(raw, lossy, "tiny.fits")


@pytest.mark.parametrize(
    "compressed",
    [b"", b"garbage" * 1000, b"SIMPLE  =                    T".ljust(2880)],
    ids=["empty", "garbage", "header-no-end"],
)
def test_verify_rejects_unreadable_output(tiny_frame, compressed):
    raw = tiny_frame[0]
    with pytest.raises(CompressionError):
        verify_compressed(raw, compressed, "tiny.fits")


def test_verify_rejects_output_without_an_image_extension(tiny_frame):
    raw = tiny_frame[0]
    with pytest.raises(CompressionError):
        verify_compressed(raw, raw, "tiny.fits")  # the uncompressed file has no HDU 1


def test_verify_rejects_the_wrong_frame(panoptes_data, tiny_frame):
    raw, frame, _, _ = tiny_frame
    unsolved = (panoptes_data / "unsolved.fits").read_bytes()  # other shape
    with pytest.raises(CompressionError, match="shape"):
        verify_compressed(unsolved, frame.data, "unsolved.fits")
    # noheader.fits holds the same pixels as tiny.fits but none of its cards
    noheader = (panoptes_data / "noheader.fits").read_bytes()
    assert np.array_equal(read_input(noheader)[1], read_input(raw)[1])
    with pytest.raises(CompressionError, match="was not kept"):
        verify_compressed(raw, compress_frame(noheader).data, "tiny.fits")


def test_verify_rejects_extra_cards(panoptes_data, tiny_frame):
    _, frame, _, _ = tiny_frame
    noheader = (panoptes_data / "noheader.fits").read_bytes()
    with pytest.raises(CompressionError):
        verify_compressed(noheader, frame.data, "noheader.fits")


# --------------------------------------------------------------------------------------
# compress_frame refuses what it cannot compress losslessly
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_images_are_refused(dtype):
    raw = astropy_written(np.ones((10, 12), dtype=dtype))
    assert read_input(raw)[0]["BITPIX"] in (-32, -64)
    with pytest.raises(CompressionError, match="BITPIX"):
        compress_frame(raw, "float.fits")


@pytest.mark.parametrize("shape", [(3, 10, 12), (12,)])
def test_non_2d_images_are_refused(shape):
    with pytest.raises(CompressionError, match="2-D"):
        compress_frame(astropy_written(np.ones(shape, dtype=np.uint16)), "cube.fits")


def test_empty_primary_is_refused():
    out = io.BytesIO()
    fits.PrimaryHDU().writeto(out)
    with pytest.raises(CompressionError, match="2-D"):
        compress_frame(out.getvalue())


@pytest.mark.parametrize("cut", [1, 2880, 40000])
def test_truncated_data_is_refused(panoptes_data, cut):
    raw = (panoptes_data / "tiny.fits").read_bytes()
    header = read_header_from_bytes(raw)
    end = header.data_offset + header.data_size
    with pytest.raises(CompressionError, match="truncated"):
        compress_frame(raw[: end - cut], "tiny.fits")
    with pytest.raises(CompressionError):
        verify_compressed(raw[: end - cut], compress_frame(raw).data, "tiny.fits")


def test_truncated_header_is_not_fits(panoptes_data):
    raw = (panoptes_data / "tiny.fits").read_bytes()
    with pytest.raises(NotFitsError):
        compress_frame(raw[:4000], "tiny.fits")


def test_data_without_padding_is_accepted(panoptes_data):
    raw = (panoptes_data / "tiny.fits").read_bytes()
    header = read_header_from_bytes(raw)
    unpadded = raw[: header.data_offset + header.data_size]
    assert len(unpadded) < len(raw)
    frame = compress_frame(unpadded, "tiny.fits")
    np.testing.assert_array_equal(read_output(frame.data)[1], read_input(raw)[1])


@pytest.mark.parametrize(
    "raw",
    [b"", b"this is a text file\n" * 300, b"\x89PNG\r\n\x1a\n" + b"\0" * 4000],
    ids=["empty", "text", "png"],
)
def test_non_fits_is_refused(raw):
    with pytest.raises(NotFitsError):
        compress_frame(raw, "upload.fits")


def test_scaled_images_are_refused():
    pixels = np.arange(20, dtype=np.int64).reshape(4, 5)
    scaled = hand_written(pixels, 16, [card("BSCALE", "2.0"), card("BZERO", "0")])
    with pytest.raises(CompressionError, match="BSCALE"):
        compress_frame(scaled)
    odd_offset = hand_written(pixels, 16, [card("BZERO", "100")])
    with pytest.raises(CompressionError, match="BZERO"):
        compress_frame(odd_offset)


def test_unsigned_32_bit_images_round_trip():
    stored = np.arange(-10, 10, dtype=np.int64).reshape(4, 5) * 200_000_000
    unsigned32 = hand_written(stored, 32, [card("BZERO", "2147483648")])
    physical = read_input(unsigned32)[1]  # astropy's reading: the independent reference
    assert physical.dtype == np.uint32
    frame = compress_frame(unsigned32)
    verify_compressed(unsigned32, frame.data)
    np.testing.assert_array_equal(read_output(frame.data)[1], physical)


def test_signed_byte_images_are_not_silently_changed():
    pixels = np.arange(20, dtype=np.int64).reshape(4, 5)
    signed_bytes = hand_written(pixels, 8, [card("BZERO", "-128")])
    expected = read_input(signed_bytes)[1]
    assert expected.dtype == np.int8 and expected[0, 0] == -128
    try:
        frame = compress_frame(signed_bytes)
    except CompressionError:
        return  # refusing is fine
    restored = read_output(frame.data)[1]
    assert restored.dtype == expected.dtype
    np.testing.assert_array_equal(restored, expected)


# --------------------------------------------------------------------------------------
# Threads, the tile-by-tile check and the header as written
# --------------------------------------------------------------------------------------


def _table_layout(data: bytes) -> tuple[fits.Header, int]:
    """The binary table's header and the offset of its data (tile descriptors) in the file."""
    with fits.open(io.BytesIO(data), disable_image_compression=True) as hdul:
        return hdul[1].header.copy(), hdul.fileinfo(1)["datLoc"]


def _descriptors(data: bytes) -> tuple[np.ndarray, int]:
    """(bytes, heap offset) of each tile, and the offset of the heap in the file."""
    table, start = _table_layout(data)
    rows = table["NAXIS2"]
    pairs = np.frombuffer(data, dtype=">i4", count=2 * rows, offset=start).reshape(rows, 2)
    return pairs.astype(np.int64), start + table.get("THEAP", 8 * rows)


def _with_pixel_changed(raw: bytes, row: int, col: int) -> bytes:
    """The same file with one stored 16-bit pixel changed by one."""
    header = read_header_from_bytes(raw)
    offset = header.data_offset + 2 * (row * header["NAXIS1"] + col)
    value = int.from_bytes(raw[offset : offset + 2], "big")
    changed = (value + 1 if value < 65535 else value - 1).to_bytes(2, "big")
    return raw[:offset] + changed + raw[offset + 2 :]


@pytest.fixture(scope="module")
def unsolved(panoptes_data):
    raw = (panoptes_data / "unsolved.fits").read_bytes()  # 700 x 700: 44 tiles
    return raw, compress_frame(raw, "unsolved.fits", workers=1)


def test_default_workers_is_bounded():
    assert 1 <= default_workers() <= MAX_WORKERS


@pytest.mark.parametrize("workers", [2, 3, 7, 64])
def test_threads_do_not_change_the_output(unsolved, workers):
    raw, one_thread = unsolved
    assert len(_descriptors(one_thread.data)[0]) == 44  # guard: many tiles to share out
    assert compress_frame(raw, "unsolved.fits", workers=workers) == one_thread
    verify_compressed(raw, one_thread.data, "unsolved.fits", workers=workers)


def test_threads_keep_the_tiles_in_order(unsolved):
    # each tile decodes, alone, to its own rows of the input
    raw, _ = unsolved
    frame = compress_frame(raw, "unsolved.fits", workers=3)
    _, pixels = read_input(raw)
    table, _ = _table_layout(frame.data)
    pairs, heap = _descriptors(frame.data)
    rows = table["ZTILE2"]
    for i, (size, offset) in enumerate(pairs):
        expected = pixels[i * rows : (i + 1) * rows]
        coded = np.frombuffer(frame.data, dtype=np.uint8, count=size, offset=heap + offset)
        decoded = Rice1(blocksize=32, bytepix=2, tilesize=expected.size).decode(coded)
        restored = (decoded.astype(np.int32) + 32768).astype(np.uint16)
        np.testing.assert_array_equal(restored.reshape(expected.shape), expected)


@pytest.mark.parametrize("workers", [1, 3])
def test_tiles_are_coded_in_worker_threads(unsolved, monkeypatch, workers):
    raw, frame = unsolved
    coded_in: set[int] = set()

    class Recording(Rice1):
        def encode(self, buf):
            coded_in.add(threading.get_ident())
            return super().encode(buf)

        def decode(self, buf):
            coded_in.add(threading.get_ident())
            return super().decode(buf)

    monkeypatch.setattr(compression, "Rice1", Recording)
    main = threading.get_ident()
    for step in (
        lambda: compress_frame(raw, workers=workers),
        lambda: verify_compressed(raw, frame.data, workers=workers),
    ):
        coded_in.clear()
        step()
        if workers == 1:
            assert coded_in == {main}
        else:
            assert coded_in and main not in coded_in


@pytest.mark.parametrize("workers", [None, 1])
def test_workers_must_be_positive(unsolved, workers):
    raw, frame = unsolved
    if workers is None:
        for bad in (0, -1):
            with pytest.raises(ValueError, match="at least 1"):
                compress_frame(raw, workers=bad)
            with pytest.raises(ValueError, match="at least 1"):
                verify_compressed(raw, frame.data, workers=bad)
    else:
        verify_compressed(raw, frame.data, workers=workers)


@pytest.mark.parametrize("where", [(0, 0), (350, 351), (699, 699), (15, 699), (16, 0)])
@pytest.mark.parametrize("workers", [1, 3])
def test_verify_rejects_one_altered_pixel_in_any_tile(unsolved, where, workers):
    raw, _ = unsolved
    altered = compress_frame(_with_pixel_changed(raw, *where), workers=workers).data
    assert np.count_nonzero(read_output(altered)[1] != read_input(raw)[1]) == 1  # guard
    first = where[0] // TILE_ROWS * TILE_ROWS
    last = min(first + TILE_ROWS, 700) - 1
    with pytest.raises(CompressionError, match=f"pixels differ.*rows {first}-{last}"):
        verify_compressed(raw, altered, "unsolved.fits", workers=workers)


@pytest.mark.parametrize("tile", [0, 21, 43])
def test_verify_rejects_corrupted_tile_bytes(unsolved, tile):
    raw, frame = unsolved
    pairs, heap = _descriptors(frame.data)
    size, offset = pairs[tile]
    at = heap + offset + size // 2
    corrupted = frame.data[:at] + bytes([frame.data[at] ^ 0x5A]) + frame.data[at + 1 :]
    with pytest.raises(CompressionError, match="tile|pixels differ"):
        verify_compressed(raw, corrupted, "unsolved.fits", workers=2)


def test_verify_rejects_a_tile_outside_the_heap(unsolved):
    raw, frame = unsolved
    table, start = _table_layout(frame.data)
    at = start + 8 * 43 + 4  # offset of the last tile's bytes
    beyond = np.array([table["PCOUNT"]], dtype=">i4").tobytes()
    moved = frame.data[:at] + beyond + frame.data[at + 4 :]
    with pytest.raises(CompressionError, match="outside the file's heap"):
        verify_compressed(raw, moved, "unsolved.fits")


def test_verify_rejects_swapped_tiles(unsolved):
    # two descriptors exchanged: every tile decodes, but two land on the wrong rows
    raw, frame = unsolved
    _, start = _table_layout(frame.data)
    first, second = start + 8 * 3, start + 8 * 4
    swapped = (
        frame.data[:first]
        + frame.data[second : second + 8]
        + frame.data[first:second]
        + frame.data[second + 8 :]
    )
    with pytest.raises(CompressionError, match="pixels differ.*rows 48-63"):
        verify_compressed(raw, swapped, "unsolved.fits")


@pytest.mark.filterwarnings("ignore:File may have been truncated")
@pytest.mark.parametrize("cut", [1, 3000, 200_000])
def test_verify_rejects_a_truncated_output(unsolved, cut):
    raw, frame = unsolved
    with pytest.raises(CompressionError):
        verify_compressed(raw, frame.data[:-cut], "unsolved.fits")


def test_verify_decodes_our_output_tile_by_tile(unsolved, monkeypatch):
    raw, frame = unsolved

    def whole_image_decode(*args):
        raise AssertionError("decoded whole")

    monkeypatch.setattr(compression, "_check_decoded", whole_image_decode)
    verify_compressed(raw, frame.data, "unsolved.fits")
    # an astropy-written file of one-row tiles is read tile by tile too
    header, pixels = read_input(raw)
    verify_compressed(raw, recompress(pixels, header), "unsolved.fits")
    with pytest.raises(AssertionError, match="decoded whole"):  # guard: the patch bites
        verify_compressed(raw, recompress(pixels, header, compression_type="GZIP_2"))


@needs_funpack
def test_verify_decodes_fpacks_output_tile_by_tile(unsolved, tmp_path, monkeypatch):
    raw, _ = unsolved
    path = tmp_path / "frame.fits"
    path.write_bytes(raw)
    packed = subprocess.run(["fpack", "-S", str(path)], capture_output=True, check=True).stdout
    monkeypatch.setattr(compression, "_check_decoded", None)  # any use would fail
    verify_compressed(raw, packed, "unsolved.fits")


@pytest.mark.parametrize("compression_type", ["GZIP_1", "GZIP_2", "PLIO_1"])
def test_verify_decodes_other_layouts_whole(unsolved, compression_type):
    raw, _ = unsolved
    header, pixels = read_input(raw)
    if compression_type == "PLIO_1":  # PLIO takes non-negative values of signed types only
        raw = astropy_written((pixels // 2).astype(np.int16))
        header, pixels = read_input(raw)
    other = recompress(pixels, header, compression_type=compression_type)
    verify_compressed(raw, other, "unsolved.fits")
    altered = pixels.copy()
    altered[350, 350] += 1
    with pytest.raises(CompressionError, match="pixels differ"):
        verify_compressed(raw, recompress(altered, header, compression_type=compression_type))


def test_verify_decodes_wider_tiles_whole(unsolved):
    # tiles that are not whole rows: astropy decodes the image
    raw, _ = unsolved
    header, pixels = read_input(raw)
    verify_compressed(raw, recompress(pixels, header, tile_shape=(100, 100)), "unsolved.fits")
    altered = pixels.copy()
    altered[699, 0] -= 1
    with pytest.raises(CompressionError, match="pixels differ"):
        verify_compressed(raw, recompress(altered, header, tile_shape=(100, 100)))


def test_input_card_images_are_kept_byte_for_byte(real):
    _, raw, frame = real
    header = read_header_from_bytes(raw)
    head = raw[: header.data_offset]
    images = [head[i : i + 80] for i in range(0, len(head), 80)]
    images = images[: next(i for i, c in enumerate(images) if c.startswith(b"END     "))]
    table, start = _table_layout(frame.data)
    written = frame.data[2880:start]
    renamed = {b"SIMPLE": b"ZSIMPLE", b"BITPIX": b"ZBITPIX", b"NAXIS": b"ZNAXIS"}
    renamed |= {b"NAXIS1": b"ZNAXIS1", b"NAXIS2": b"ZNAXIS2"}
    renamed |= {b"CHECKSUM": b"ZHECKSUM", b"DATASUM": b"ZDATASUM"}
    at = 0
    for image in images:  # in the input's order
        keyword = image[:8].rstrip()
        if keyword == b"EXTEND":
            continue
        if keyword in renamed:
            image = renamed[keyword].ljust(8) + image[8:]
        found = written.find(image, at)
        assert found >= 0 and found % 80 == 0, image
        at = found + 80
    assert table["ZSIMPLE"] is True


@pytest.mark.parametrize(
    "keyword", ["ZCMPTYPE", "ZNAME1", "ZTILE2", "ZHECKSUM", "TFIELDS", "TFORM1", "NAXIS3"]
)
def test_reserved_keywords_are_refused(keyword):
    value = "'GZIP_1  '" if keyword != "NAXIS3" and not keyword.startswith("ZT") else "1"
    raw = hand_written(_uint16_pixels(), 16, [card("BZERO", "32768"), card(keyword, value)])
    with pytest.raises(CompressionError, match=f"{keyword} is reserved"):
        compress_frame(raw, "reserved.fits")


def test_a_heap_beyond_32_bit_descriptors_is_refused(unsolved, monkeypatch):
    raw, frame = unsolved
    pairs, _ = _descriptors(frame.data)
    monkeypatch.setattr(compression, "_MAX_HEAP", int(pairs[:, 0].sum()) - 1)
    with pytest.raises(CompressionError, match="compressed pixels take"):
        compress_frame(raw, "unsolved.fits")


@pytest.mark.parametrize("shape", [(0, 5), (5, 0)])
def test_images_without_pixels_are_refused(unsolved, shape):
    empty = hand_written(np.zeros(shape, dtype=np.int16), 16, [])
    with pytest.raises(CompressionError, match="no pixels"):
        compress_frame(empty, "empty.fits")
    with pytest.raises(CompressionError, match="no pixels"):
        verify_compressed(empty, unsolved[1].data, "empty.fits")


def test_tiles_that_compress_worse_than_the_first_ones(monkeypatch):
    # the first tiles are flat, the last ones noise: the room set aside after the first
    # tiles is too small, and the buffer grows for the rest
    rng = np.random.default_rng(8)
    pixels = np.full((400, 300), 1000, dtype=np.uint16)
    pixels[200:] = rng.integers(0, 65536, size=(200, 300), dtype=np.uint16)
    raw = astropy_written(pixels)
    reserved: list[int] = []
    reserve = compression._reserve
    monkeypatch.setattr(
        compression, "_reserve", lambda out, size: (reserved.append(size), reserve(out, size))
    )
    frames = [compress_frame(raw, workers=w) for w in (1, 3)]
    assert frames[0] == frames[1]
    assert reserved and max(reserved) < len(frames[0].data) / 2  # guard: it did grow
    np.testing.assert_array_equal(read_output(frames[0].data)[1], pixels)
    verify_compressed(raw, frames[0].data, workers=2)


# --------------------------------------------------------------------------------------
# Reading a stored frame: its tiles decoded in threads, as astropy decodes them
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_decoding_in_threads_gives_astropys_pixels_and_header(unsolved, workers):
    _, compressed = unsolved
    header, pixels = compression.decode_compressed(compressed.data, workers=workers)
    reference_header, reference = read_output(compressed.data)
    assert pixels.dtype == reference.dtype == np.uint16
    np.testing.assert_array_equal(pixels, reference)
    assert str(header) == str(reference_header)


def test_fpacks_output_and_a_stored_real_frame_are_decoded_in_threads(
    unsolved, panoptes_data, tmp_path
):
    raw, _ = unsolved
    path = tmp_path / "frame.fits"
    path.write_bytes(raw)
    packed = subprocess.run(["fpack", "-S", str(path)], capture_output=True, check=True).stdout
    for data in (packed, (panoptes_data / "solved.fits.fz").read_bytes()):
        decoded = compression.decode_compressed(data)
        assert decoded is not None
        np.testing.assert_array_equal(decoded[1], read_output(data)[1])
        frame = read_stored_frame(data, "frame.fits.fz")
        np.testing.assert_array_equal(frame.pixels, decoded[1])


@pytest.mark.parametrize("compression_type", ["GZIP_2", "PLIO_1"])
def test_other_layouts_are_left_to_astropy(unsolved, compression_type):
    raw, _ = unsolved
    header, pixels = read_input(raw)
    if compression_type == "PLIO_1":
        pixels = (pixels // 2).astype(np.int16)
    other = recompress(pixels, header, compression_type=compression_type)
    assert compression.decode_compressed(other) is None
    np.testing.assert_array_equal(read_stored_frame(other, "other").pixels, pixels)


def test_a_damaged_tile_makes_the_stored_frame_unreadable(unsolved):
    _, compressed = unsolved
    data = bytearray(compressed.data)
    (sizes_offsets, heap) = _descriptors(bytes(data))
    size, offset = (int(v) for v in sizes_offsets[3])
    data[heap + offset : heap + offset + size] = b"\xff" * size
    with pytest.raises(UnreadableFrame, match="tile 3"):
        read_stored_frame(bytes(data), "damaged.fits.fz")
