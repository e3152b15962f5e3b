"""Verified pixels, bounded work: a pixel budget and a full check of ``.fits.fz`` files.

A header is a promise about the pixels; this module checks both the promise and the pixels.

- :func:`check_pixel_budget` reads the size a header announces (``NAXISn`` and ``BITPIX``, or
  ``ZNAXISn`` and ``ZBITPIX`` of a tile-compressed image) and refuses, with
  :class:`PixelBudgetError`, any image larger than :data:`MAX_FRAME_PIXELS` pixels or
  :data:`MAX_FRAME_BYTES` bytes, before a single pixel is allocated. A 4 MB ``.fits.fz`` can
  announce 16000 x 16000 pixels, and decompressing it would allocate gigabytes.
- :func:`verify_fits_fz` verifies a tile-compressed file held in memory: the budget first,
  then the stored ``DATASUM`` and ``CHECKSUM`` of the primary HDU and of the compressed HDU
  (over the bytes as stored), the tile table, and then it decodes every tile, whole rows of
  tiles at a time up to :data:`DECODE_STEP_BYTES` of pixels, so that the memory it needs is
  bounded whatever the image. A decoder error, an astropy warning, a NaN pixel (unless
  allowed) and a ``ZDATASUM`` that differs from the sum of the decoded pixels all raise
  :class:`CorruptPixelsError`.

What astropy does, and why this module does not simply rely on it
-----------------------------------------------------------------
- ``fits.open(..., checksum=True)`` only *warns* (``AstropyUserWarning``, "Checksum
  verification failed for HDU ...") when ``CHECKSUM`` or ``DATASUM`` do not match, and it
  computes ``CHECKSUM`` over the header as astropy re-serialises it, not over the stored
  bytes. It never checks ``ZDATASUM`` or ``ZHECKSUM``. Here the sums are computed over the
  stored bytes with :func:`~panoptes_network.frames.checksum.ones_complement_sum`.
- A corrupt Rice tile either makes the decoder raise (astropy's ``CfitsioException``, a bare
  ``Exception``: "decompression error: hit end of compressed byte stream", "unused bytes at
  end of compressed buffer") or decodes *silently* to different pixels. Only ``DATASUM`` (over
  the compressed bytes) or ``ZDATASUM`` (over the pixels) can catch the second kind: a file
  that carries neither is checked for decodability only.
- ``CompImageHDU.data`` allocates the whole image from ``ZNAXISn`` before decoding, and a
  GZIP tile is decoded with an unbounded ``gzip.decompress``: a 70 kB file with a 16 x 16
  image and one GZIP tile that inflates to 64 MB made astropy allocate 150 MB. Here GZIP tiles
  are first inflated in 1 MB pieces that are counted and discarded, and a tile that inflates
  past its pixels (tile pixels x ``|ZBITPIX|`` / 8 bytes, the width cfitsio and astropy
  store) is refused before astropy touches it.
- fpack writes ``CHECKSUM``/``DATASUM`` in every HDU, and keeps the input's as ``ZHECKSUM``/
  ``ZDATASUM``; astropy writes the first pair only with ``checksum=True``, the second never.
  ``ZHECKSUM`` covers the uncompressed header, which a ``.fits.fz`` does not store byte for
  byte (fpack drops ``EXTEND``, for one), so it cannot be verified and is not.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from panoptes_network.frames.camera import SENSOR_SHAPE
from panoptes_network.frames.checksum import ones_complement_sum
from panoptes_network.frames.fits_header import FitsHeader, read_header_from_bytes
from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "ALLOWED_BITPIX",
    "BUDGET_FRAMES",
    "DECODE_STEP_BYTES",
    "MAX_BYTES_PER_PIXEL",
    "MAX_FRAME_BYTES",
    "MAX_FRAME_PIXELS",
    "CorruptPixelsError",
    "PixelBudgetError",
    "VerifiedFrame",
    "check_pixel_budget",
    "verify_fits_fz",
]

#: Full sensor frames' worth of pixels one file may announce.
BUDGET_FRAMES: int = 4
#: Most pixels one image may announce: :data:`BUDGET_FRAMES` full frames of
#: :data:`~panoptes_network.frames.camera.SENSOR_SHAPE` (4 x 5208 x 3476 = 72,412,032).
MAX_FRAME_PIXELS: int = BUDGET_FRAMES * SENSOR_SHAPE[0] * SENSOR_SHAPE[1]
#: Bytes per pixel the byte budget allows for, in bytes: 32-bit pixels.
MAX_BYTES_PER_PIXEL: int = 4
#: Most bytes one decompressed image may take, in bytes (about 290 MB).
MAX_FRAME_BYTES: int = MAX_FRAME_PIXELS * MAX_BYTES_PER_PIXEL
#: The bit depths FITS defines for an image (``BITPIX``, ``ZBITPIX``).
ALLOWED_BITPIX: tuple[int, ...] = (8, 16, 32, 64, -32, -64)

#: Bytes of pixels :func:`verify_fits_fz` decodes at a time by default, in bytes (64 MiB): a
#: full 16-bit frame (36 MB) in one step, which astropy decodes fastest.
DECODE_STEP_BYTES: int = 1 << 26
# Bytes inflated at a time when measuring a GZIP tile.
_INFLATE_PIECE = 1 << 20
_DESCRIPTOR = re.compile(r"\d*([PQ])([BIJKED])")
_ELEMENT_BYTES = {"B": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8}
_TILE_COLUMNS = ("COMPRESSED_DATA", "GZIP_COMPRESSED_DATA", "UNCOMPRESSED_DATA")


class PixelBudgetError(BadInput):
    """An image that announces more pixels or bytes than the budget: never decompressed.

    Parameters
    ----------
    source : str
        The file or object name.
    reason : str
        The announced size and the limit, e.g. ``"announces 16000 x 16000 pixels of 16 bits
        (512 MB decompressed), more than the limit of 72,412,032 pixels (4 full frames); not
        decompressed"``.
    """


class CorruptPixelsError(BadInput):
    """A tile-compressed file whose stored bytes or decoded pixels fail a check.

    Parameters
    ----------
    source : str
        The file or object name.
    reason : str
        Which check failed, and where (HDU, tile, image rows), e.g. ``"HDU 1 DATASUM is
        570615776 but its data sums to 570615521: the stored bytes changed after the sum was
        written"``.
    """


@dataclass(frozen=True)
class VerifiedFrame:
    """What :func:`verify_fits_fz` proved about a ``.fits.fz`` file.

    Attributes
    ----------
    header : astropy.io.fits.Header
        The image header (astropy's ``CompImageHDU.header``: ``BITPIX``, ``NAXISn``, the
        unit's cards).
    shape : tuple of int
        Image shape in numpy order, e.g. ``(3476, 5208)``, in pixels.
    bitpix : int
        The image's ``BITPIX`` (``ZBITPIX`` of the table).
    compression : str
        The tile compression (``ZCMPTYPE``), e.g. ``"RICE_1"``.
    tiles : int
        Tiles decoded: every tile of the image.
    sums_checked : tuple of str
        The stored sums that were present and matched, e.g. ``("HDU 0 DATASUM", "HDU 0
        CHECKSUM", "HDU 1 DATASUM", "HDU 1 CHECKSUM", "ZDATASUM")``. Empty when the file
        carries none: then a tile altered into another decodable stream goes unnoticed.
    """

    header: fits.Header
    shape: tuple[int, ...]
    bitpix: int
    compression: str
    tiles: int
    sums_checked: tuple[str, ...]


@dataclass(frozen=True)
class _AnnouncedImage:
    """The size a header announces."""

    axes: tuple[int, ...]  # FITS order: NAXIS1 first, in pixels
    bitpix: int

    @property
    def pixels(self) -> int:
        return math.prod(self.axes)

    @property
    def nbytes(self) -> int:
        return self.pixels * (abs(self.bitpix) // 8)


def _announced_image(header: FitsHeader | fits.Header, source: str) -> _AnnouncedImage:
    """Read the announced axes and bit depth, naming the cards as the file spells them."""
    raw_table = header.get("ZIMAGE") is True  # an untranslated compressed-image table header
    translated = isinstance(header, FitsHeader) and header.compressed
    stored = "Z" if raw_table or translated else ""
    key = "Z" if raw_table else ""

    def integer(keyword: str) -> int:
        value = header.get(key + keyword)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PixelBudgetError(
                source,
                f"{stored}{keyword} = {value!r} is not a non-negative integer, so the size of "
                "the image is unknown; not decompressed",
            )
        return value

    naxis = integer("NAXIS")
    if naxis > 999:
        raise PixelBudgetError(source, f"{stored}NAXIS = {naxis} is more than 999 axes")
    axes = tuple(integer(f"NAXIS{i}") for i in range(1, naxis + 1))
    bitpix = header.get(key + "BITPIX")
    if isinstance(bitpix, bool) or bitpix not in ALLOWED_BITPIX:
        raise PixelBudgetError(
            source,
            f"{stored}BITPIX = {bitpix!r} is not a FITS bit depth "
            f"({', '.join(map(str, ALLOWED_BITPIX))}); not decompressed",
        )
    return _AnnouncedImage(axes, bitpix)


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.0f} MB" if nbytes >= 1e7 else f"{nbytes / 1e6:.1f} MB"


def check_pixel_budget(
    header: FitsHeader | fits.Header,
    source: str,
    max_pixels: int = MAX_FRAME_PIXELS,
    *,
    max_bytes: int | None = None,
) -> None:
    """Refuse an image whose header announces more pixels or bytes than the budget.

    Only the header is read: call it before any pixel is read or decompressed.

    Parameters
    ----------
    header : FitsHeader or astropy.io.fits.Header
        The image header as :func:`~panoptes_network.frames.fits_header.read_header` returns
        it (a compressed image's header translated: ``NAXISn`` are the image's), astropy's
        image header, or the untranslated table header of a compressed image
        (``ZIMAGE = T``: ``ZNAXISn`` and ``ZBITPIX`` are read, not the table's ``NAXISn``).
    source : str
        Name of the file, for messages.
    max_pixels : int
        Most pixels allowed, over all axes, in pixels.
    max_bytes : int, optional
        Most bytes the decompressed image may take (pixels x ``|BITPIX|`` / 8), in bytes.
        Defaults to ``max_pixels * MAX_BYTES_PER_PIXEL``.

    Raises
    ------
    PixelBudgetError
        If the image is over either limit, or its axes or bit depth are missing or invalid
        (its size is then unknown).
    """
    limit_bytes = max_pixels * MAX_BYTES_PER_PIXEL if max_bytes is None else max_bytes
    image = _announced_image(header, source)
    if image.pixels <= max_pixels and image.nbytes <= limit_bytes:
        return
    depth = f"{image.bitpix} bits" if image.bitpix > 0 else f"{-image.bitpix}-bit floats"
    announced = (
        f"announces {' x '.join(map(str, image.axes))} pixels of {depth} "
        f"({_megabytes(image.nbytes)} decompressed)"
    )
    if image.pixels > max_pixels:
        frames, part = divmod(max_pixels, SENSOR_SHAPE[0] * SENSOR_SHAPE[1])
        whole = f" ({frames} full frames)" if frames and not part else ""
        limit = f"the limit of {max_pixels:,} pixels{whole}"
    else:
        limit = f"the limit of {_megabytes(limit_bytes)} ({limit_bytes:,} bytes)"
    raise PixelBudgetError(source, f"{announced}, more than {limit}; not decompressed")


def verify_fits_fz(
    data: bytes,
    source: str,
    max_pixels: int = MAX_FRAME_PIXELS,
    *,
    allow_nan: bool = False,
    step_bytes: int = DECODE_STEP_BYTES,
    check_zdatasum: bool = False,
) -> VerifiedFrame:
    """Verify a tile-compressed FITS file: budget, stored sums, and every tile decoded.

    In order: the image header is read without touching data and checked against the pixel
    budget; the file must hold all the data it announces; ``DATASUM`` and ``CHECKSUM`` of the
    primary and the compressed HDU, where present, must match the stored bytes; the tile
    table must hold one in-heap entry per tile, and GZIP tiles must not inflate past their
    size; then every tile is decoded with astropy, whole rows of tiles at a time (at most
    ``step_bytes`` of pixels, or one row of tiles), with astropy and numpy warnings turned
    into errors; no pixel may be NaN unless ``allow_nan``; and, with ``check_zdatasum``, a
    ``ZDATASUM`` must equal the sum of the decoded pixels, for losslessly compressed images.

    ``ZDATASUM`` is off by default: fpack (and astropy) copy it from the input header's
    ``DATASUM``, which a tool that changed the data may have left stale (the cut-out
    ``tiny.fits`` of ``../shared/data/panoptes`` is one). The compressed HDU's own
    ``DATASUM`` and ``CHECKSUM``, written at compression time, are what catch damage on the
    way to the network.

    Peak memory is about ``step_bytes`` of pixels and a copy of them, plus the compressed
    heap when the image is decoded in one step; nothing is allocated for the pixels of an
    image over the budget. Warnings are caught with :func:`warnings.catch_warnings`, which
    is process-wide: do not run two verifications in threads of one process.

    Parameters
    ----------
    data : bytes
        The whole ``.fits.fz`` file.
    source : str
        Name of the file, for messages.
    max_pixels : int
        Most pixels the image may announce, in pixels; see :func:`check_pixel_budget`.
    allow_nan : bool
        Accept NaN pixels in a floating-point image (blank pixels). An integer image cannot
        hold NaN.
    step_bytes : int
        Most bytes of pixels decoded at a time, in bytes (at least one row of tiles is). An
        image that fits is decoded in one step, the fastest way; a larger one in steps,
        which costs astropy more per tile.
    check_zdatasum : bool
        Also require the decoded pixels to sum to ``ZDATASUM`` where present.

    Returns
    -------
    VerifiedFrame
        The image header, shape, and which sums were checked.

    Raises
    ------
    NotFitsError
        If the bytes are not a readable FITS file.
    PixelBudgetError
        If the image announces more than the budget; nothing is decompressed.
    CorruptPixelsError
        If the file holds no tile-compressed image, is truncated, a stored sum does not
        match, the tile table is inconsistent, a tile does not decode, decodes with a
        warning or to NaN, or the pixels do not sum to ``ZDATASUM``.
    """
    image = read_header_from_bytes(data, hdu=1, source=source)
    if not image.compressed:
        raise CorruptPixelsError(
            source,
            "HDU 1 is not a tile-compressed image (no ZIMAGE = T); a .fits.fz holds its "
            "image in HDU 1, after an empty primary HDU",
        )
    check_pixel_budget(image, source, max_pixels)
    announced = _announced_image(image, source)
    if announced.pixels == 0:
        raise CorruptPixelsError(source, f"HDU {image.hdu} announces an empty image")
    end = image.data_offset + image.data_size
    if len(data) < end:
        raise CorruptPixelsError(
            source,
            f"file is truncated: {len(data)} bytes, but HDU {image.hdu} announces {end}",
        )
    view = memoryview(data)
    primary = read_header_from_bytes(data, hdu=0, source=source)
    table_header = _header_at(view, image.header_offset, image.data_offset, source)
    sums = _check_stored_sums(view, 0, primary, primary.get, source)
    sums += _check_stored_sums(view, image.hdu, image, table_header.get, source)
    with _open_compressed(data, image.hdu, source) as hdu:
        tiles = _check_tile_table(view, image, table_header, hdu, source)
        summing = check_zdatasum and "ZDATASUM" in table_header
        zdatasum = _decode_all_tiles(
            hdu, announced, image.hdu, summing, allow_nan, step_bytes, source
        )
        if zdatasum is not None:
            sums += (_check_zdatasum(table_header, zdatasum, image.hdu, source),)
        header = hdu.header.copy()
        compression = str(hdu.compression_type)
    return VerifiedFrame(
        header=header,
        shape=tuple(reversed(announced.axes)),
        bitpix=announced.bitpix,
        compression=compression,
        tiles=tiles,
        sums_checked=sums,
    )


def _header_at(view: memoryview, start: int, stop: int, source: str) -> fits.Header:
    """Parse the stored header blocks ``start:stop`` with astropy, untranslated."""
    try:
        return fits.Header.fromstring(bytes(view[start:stop]).decode("ascii"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptPixelsError(source, f"header at byte {start} is unreadable: {exc}") from None


def _check_stored_sums(
    view: memoryview, hdu: int, where: FitsHeader, card: Callable[[str], Any], source: str
) -> tuple[str, ...]:
    """Check ``DATASUM`` and ``CHECKSUM`` of one HDU over its stored bytes.

    ``where`` locates the HDU in the file; ``card`` reads its own, untranslated, cards.
    """
    datasum_card, checksum_card = card("DATASUM"), card("CHECKSUM")
    if datasum_card is None and checksum_card is None:
        return ()
    region: bytes | memoryview = view[
        where.data_offset : where.data_offset + where.padded_data_size
    ]
    if len(region) < where.padded_data_size:  # an unpadded last block sums the same
        region = bytes(region) + bytes(where.padded_data_size - len(region))
    datasum = ones_complement_sum(region)
    checked: list[str] = []
    if datasum_card is not None:
        try:
            stored = int(str(datasum_card).strip())
        except ValueError:
            raise CorruptPixelsError(
                source, f"HDU {hdu} DATASUM = {datasum_card!r} is not a number"
            ) from None
        if stored != datasum:
            raise CorruptPixelsError(
                source,
                f"HDU {hdu} DATASUM is {stored} but its data sums to {datasum}: the "
                "stored bytes changed after the sum was written",
            )
        checked.append(f"HDU {hdu} DATASUM")
    if checksum_card is not None:
        total = ones_complement_sum(view[where.header_offset : where.data_offset], datasum)
        if total != 0xFFFFFFFF:
            raise CorruptPixelsError(
                source,
                f"HDU {hdu} CHECKSUM {checksum_card!r} does not match: header and data sum "
                f"to {total:#010x}, not -0 (0xffffffff); the HDU changed after it was written",
            )
        checked.append(f"HDU {hdu} CHECKSUM")
    return tuple(checked)


@contextmanager
def _open_compressed(data: bytes, index: int, source: str) -> Iterator[fits.CompImageHDU]:
    """Open HDU ``index`` of ``data`` as astropy's CompImageHDU, unscaled."""
    try:
        hdus = fits.open(io.BytesIO(data), do_not_scale_image_data=True)
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptPixelsError(
            source, f"file cannot be opened by astropy: {type(exc).__name__}: {exc}"
        ) from None
    try:
        try:
            hdu = hdus[index]
        except MemoryError:
            raise
        except Exception as exc:
            raise CorruptPixelsError(
                source,
                f"HDU {index} cannot be opened as a compressed image: {type(exc).__name__}: {exc}",
            ) from None
        if not isinstance(hdu, fits.CompImageHDU):
            raise CorruptPixelsError(source, f"HDU {index} is not a compressed image to astropy")
        yield hdu
    finally:
        hdus.close()


def _check_tile_table(
    view: memoryview,
    image: FitsHeader,
    table: fits.Header,
    hdu: fits.CompImageHDU,
    source: str,
) -> int:
    """Check one table row per tile, descriptors inside the heap, GZIP tiles bounded."""
    shape = tuple(int(n) for n in hdu.shape)
    tile_shape = tuple(min(int(t), n) for t, n in zip(hdu.tile_shape, shape, strict=True))
    if any(t <= 0 for t in tile_shape):
        raise CorruptPixelsError(source, f"HDU {image.hdu} has tile shape {tile_shape}")
    tiles = math.prod(math.ceil(n / t) for n, t in zip(shape, tile_shape, strict=True))
    rows = table.get("NAXIS2")
    if rows != tiles:
        raise CorruptPixelsError(
            source,
            f"HDU {image.hdu} has {rows} table rows for {tiles} tiles of {tile_shape} pixels",
        )
    heap_start = image.data_offset + int(table.get("THEAP", table["NAXIS1"] * table["NAXIS2"]))
    heap_size = int(table.get("PCOUNT", 0))
    names = hdu.compressed_data.columns.names
    gzip_tiles = {"GZIP_COMPRESSED_DATA"}
    if str(hdu.compression_type).startswith("GZIP"):
        gzip_tiles.add("COMPRESSED_DATA")
    # cfitsio and astropy store GZIP tiles at the image's width (quantised floats narrower).
    limit = math.prod(tile_shape) * (abs(int(table["ZBITPIX"])) // 8)
    for number, name in enumerate(names, start=1):
        if name not in _TILE_COLUMNS:
            continue
        match = _DESCRIPTOR.fullmatch(str(table.get(f"TFORM{number}", "")).split("(")[0])
        if match is None:
            raise CorruptPixelsError(
                source, f"HDU {image.hdu} column {name} is not a variable-length array"
            )
        descriptors = np.asarray(hdu.compressed_data[name]).reshape(-1, 2).astype(np.int64)
        sizes, offsets = descriptors[:, 0] * _ELEMENT_BYTES[match.group(2)], descriptors[:, 1]
        outside = (sizes < 0) | (offsets < 0) | (offsets + sizes > heap_size)
        if outside.any():
            row = int(np.argmax(outside))
            raise CorruptPixelsError(
                source,
                f"HDU {image.hdu} tile {row + 1} ({name}) points at heap bytes "
                f"{offsets[row]}-{offsets[row] + sizes[row]}, outside the {heap_size}-byte heap",
            )
        if name in gzip_tiles:
            for row in np.flatnonzero(sizes):
                start = heap_start + int(offsets[row])
                stream = view[start : start + int(sizes[row])]
                _check_gzip_tile(stream, limit, image.hdu, int(row) + 1, source)
    return tiles


def _check_gzip_tile(stream: memoryview, limit: int, hdu: int, tile: int, source: str) -> None:
    """Inflate a GZIP tile in pieces, discarding them, and refuse it past ``limit`` bytes."""
    rest = bytes(stream)
    total = 0
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        pending = rest
        try:
            while pending and not inflater.eof:
                total += len(inflater.decompress(pending, _INFLATE_PIECE))
                if total > limit:
                    raise CorruptPixelsError(
                        source,
                        f"HDU {hdu} tile {tile} inflates to more than {limit:,} bytes, more "
                        "than its pixels take (a decompression bomb); not decompressed",
                    )
                pending = inflater.unconsumed_tail
        except zlib.error as exc:
            raise CorruptPixelsError(
                source, f"HDU {hdu} tile {tile} is not a valid GZIP stream: {exc}"
            ) from None
        if not inflater.eof:
            raise CorruptPixelsError(source, f"HDU {hdu} tile {tile}: GZIP stream is truncated")
        rest = inflater.unused_data.lstrip(b"\0")  # as gzip.decompress: members, zero padding


def _decode_all_tiles(
    hdu: fits.CompImageHDU,
    image: _AnnouncedImage,
    index: int,
    summing: bool,
    allow_nan: bool,
    step_bytes: int,
    source: str,
) -> int | None:
    """Decode every tile, whole rows of tiles at a time; return the data sum for ZDATASUM."""
    shape = tuple(reversed(image.axes))
    tile_rows = min(int(hdu.tile_shape[0]), shape[0])  # image rows in one row of tiles
    row_bytes = math.prod(shape[1:]) * (abs(image.bitpix) // 8)
    # Whole rows of tiles, and a whole number of 4-byte words for the data sum.
    unit = tile_rows * (4 // math.gcd(tile_rows * row_bytes, 4))
    step = unit * max(1, step_bytes // (unit * row_bytes))
    # Quantised (lossy) tiles cannot give back the pixels ZDATASUM was summed over.
    summing = summing and "ZSCALE" not in hdu.compressed_data.columns.names
    total = 0
    for first in range(0, shape[0], step):
        pixels = _decode_rows(hdu, first, min(first + step, shape[0]), tile_rows, index, source)
        if pixels.dtype.kind == "f" and not allow_nan:
            _refuse_nan(pixels, first, tile_rows, index, source)
        if summing:
            stored = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder(">"))
            raw = stored.reshape(-1).view(np.uint8)
            if raw.size % 4:  # only the last step; the zeros FITS pads with do not count
                raw = np.concatenate([raw, np.zeros(4 - raw.size % 4, np.uint8)])
            total = ones_complement_sum(raw, total)
    return total if summing else None


def _decode_strictly(hdu: fits.CompImageHDU, first: int, last: int) -> np.ndarray:
    """Decode image rows ``first:last`` with astropy and numpy warnings raised as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyUserWarning)
        warnings.simplefilter("error", RuntimeWarning)
        return np.asarray(hdu.section[first:last])


def _decode_rows(
    hdu: fits.CompImageHDU, first: int, last: int, tile_rows: int, index: int, source: str
) -> np.ndarray:
    """Decode image rows ``first:last`` (whole rows of tiles); name the tiles that fail."""
    try:
        return _decode_strictly(hdu, first, last)
    except MemoryError:
        raise
    except Exception as exc:  # astropy's CfitsioException is a bare Exception
        failure = exc
    for start in range(first, last, tile_rows):  # find the first row of tiles that fails
        try:
            _decode_strictly(hdu, start, min(start + tile_rows, last))
        except MemoryError:
            raise
        except Exception as exc:
            failure, first = exc, start
            break
    per_row = math.prod(
        math.ceil(n / min(int(t), n))
        for n, t in zip(hdu.shape[1:], hdu.tile_shape[1:], strict=True)
    )
    low = first // tile_rows * per_row + 1
    tiles = f"tile {low}" if per_row == 1 else f"tiles {low}-{low + per_row - 1}"
    rows = f"{first + 1}-{min(first + tile_rows, hdu.shape[0])}"
    kind = "warned" if isinstance(failure, Warning) else "failed"
    raise CorruptPixelsError(
        source,
        f"HDU {index} {tiles} (image rows {rows}) {kind} when decoded: "
        f"{type(failure).__name__}: {str(failure).strip()}",
    ) from None


def _refuse_nan(pixels: np.ndarray, first: int, tile_rows: int, index: int, source: str) -> None:
    """Refuse decoded pixels that hold NaN, naming the first one."""
    bad = np.isnan(pixels)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return
    where = np.unravel_index(int(np.argmax(bad)), pixels.shape)
    row = first + int(where[0])
    column = int(where[-1]) if pixels.ndim > 1 else 0
    raise CorruptPixelsError(
        source,
        f"HDU {index} decodes to {count} NaN pixel(s), the first at image row {row + 1}, "
        f"column {column + 1} (row {row // tile_rows + 1} of tiles); a frame holds none "
        "(allow_nan=True accepts blank pixels)",
    )


def _check_zdatasum(table: fits.Header, total: int, index: int, source: str) -> str:
    """Compare the decoded pixels' data sum with ZDATASUM."""
    card = table.get("ZDATASUM")
    try:
        stored = int(str(card).strip())
    except ValueError:
        raise CorruptPixelsError(
            source, f"HDU {index} ZDATASUM = {card!r} is not a number"
        ) from None
    if stored != total:
        raise CorruptPixelsError(
            source,
            f"HDU {index} ZDATASUM is {stored} but the decoded pixels sum to {total}: the "
            "tiles decode to other pixels than were compressed",
        )
    return "ZDATASUM"
