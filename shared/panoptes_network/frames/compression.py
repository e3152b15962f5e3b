"""Lossless Rice compression of frames to fpack-compatible ``.fits.fz``.

The output has an empty primary HDU and the image in HDU 1, a tile-compressed binary table
(``ZCMPTYPE = 'RICE_1'``) that ``funpack`` and astropy read back to the identical pixels. Every
header card of the input is kept, byte for byte (``SIMPLE``, ``BITPIX``, ``NAXISn``,
``CHECKSUM`` and ``DATASUM`` under the convention's ``Z`` names; ``EXTEND`` is not carried).
Integer images are compressed without quantisation, so the compression is lossless;
:func:`verify_compressed` proves it for each frame before anything is deleted.

How the work is done:

- the input's pixels are never copied whole: each tile is taken from the input bytes as they
  are stored (big-endian, before ``BZERO``) and encoded with astropy's Rice codec (the
  CFITSIO algorithm astropy ships); the file around the tiles (headers, tile descriptors,
  heap) is written here, following the FITS tiled-image convention, as the tiles come: what
  is held besides the input is the output and the tiles not yet written;
- :func:`verify_compressed` reads the produced bytes back on its own: astropy parses the
  file (the image header it gives is compared card by card with the input's; the table's
  header and offset tell where the tile descriptors and the heap are), and each tile is
  decoded from the file's bytes and compared with the same rows of the input, bit for bit.
  A file of another layout (another algorithm, tiles that are not whole rows, other
  scaling) is decoded whole by astropy instead and compared pixel for pixel;
- tiles are encoded and decoded in threads (the codec releases the GIL), one per CPU the
  process may use (at most :data:`MAX_WORKERS`); ``workers=1`` does everything in the
  calling thread. The output does not depend on the number of threads.

Tiles are 16 image rows (fpack uses one row): the files are a little smaller, a frame is
coded in 218 codec calls instead of 3476 (faster in Python: wider tiles gain nothing more),
and random access to a few rows stays cheap.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from astropy.io import fits
from astropy.io.fits.hdu.compressed._codecs import Rice1  # the codec CompImageHDU uses

from panoptes_network.frames.fits_header import BLOCK_SIZE, read_header_from_bytes
from panoptes_network.frames.pixel_check import (
    MAX_FRAME_PIXELS,
    PixelBudgetError,
    check_pixel_budget,
)
from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "MAX_WORKERS",
    "TILE_ROWS",
    "default_workers",
    "CompressionError",
    "FrameTooLargeError",
    "CompressedFrame",
    "decode_compressed",
    "compress_frame",
    "verify_compressed",
    "read_image_pixels",
]

#: Rows per compression tile.
TILE_ROWS = 16
#: Most threads that encode or decode the tiles of one frame.
MAX_WORKERS = 8
#: Pixels per Rice block (``ZVAL1`` of ``ZNAME1 = 'BLOCKSIZE'``), as fpack writes.
RICE_BLOCK_SIZE = 32
# Chunks of tiles handed to each thread: several, so that a thread slowed down by another
# process does not hold up the whole frame, and few coded tiles wait to be written.
_CHUNKS_PER_WORKER = 8
# Largest heap a ``1PB`` column (32-bit descriptors) can address, in bytes.
_MAX_HEAP = 2**31 - 1
_CARD = 80
# Cards that describe the stored array; the compressed file carries them differently.
_STRUCTURAL = {
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "PCOUNT",
    "GCOUNT",
    "BZERO",
    "BSCALE",
}
# Cards a compressed image does not carry: a single image needs no EXTEND.
_NOT_CARRIED = {"EXTEND"}
_COMMENTARY = {"COMMENT", "HISTORY", ""}
# Input cards that the tiled-image convention keeps under another name.
_RENAMED = {
    "SIMPLE": "ZSIMPLE",
    "BITPIX": "ZBITPIX",
    "NAXIS": "ZNAXIS",
    "NAXIS1": "ZNAXIS1",
    "NAXIS2": "ZNAXIS2",
    "BLOCKED": "ZBLOCKED",
    "CHECKSUM": "ZHECKSUM",
    "DATASUM": "ZDATASUM",
}
# Input cards left out: EXTEND, and those no primary image has.
_DROPPED = _NOT_CARRIED | {"XTENSION", "PCOUNT", "GCOUNT"}
# Keywords of the binary table and of the compression convention: an input card with one of
# these names would clash with the table's own.
_RESERVED = re.compile(
    r"TFIELDS|THEAP|NAXIS\d+"
    r"|T(TYPE|FORM|UNIT|NULL|SCAL|ZERO|DISP|BCOL|DIM|CTYP|CUNI|CRPX|CRVL|CDLT|RPOS)\d+"
    r"|Z(IMAGE|CMPTYPE|BITPIX|NAXIS\d*|TILE\d+|NAME\d+|VAL\d+|MASKCMP|SIMPLE|TENSION|EXTEND"
    r"|BLOCKED|PCOUNT|GCOUNT|HECKSUM|DATASUM|QUANTIZ|DITHER0|BLANK|SCALE|ZERO)"
)
# The column format of the tile descriptors this module reads itself.
_TFORM_PB = re.compile(r"1?PB(\(\d+\))?")
# (BITPIX, BZERO) -> (stored big-endian type, bits flipped to apply the offset, physical type).
_LAYOUTS: dict[tuple[int, int], tuple[str, int, type]] = {
    (8, 0): (">u1", 0, np.uint8),
    (8, -128): (">u1", 0x80, np.int8),
    (16, 0): (">i2", 0, np.int16),
    (16, 32768): (">u2", 0x8000, np.uint16),
    (32, 0): (">i4", 0, np.int32),
    (32, 2147483648): (">u4", 0x80000000, np.uint32),
}
# Stored values as the Rice codec takes and gives them: signed, of the pixel's width.
_CODED = {8: ">u1", 16: ">i2", 32: ">i4"}

_T = TypeVar("_T")


class CompressionError(BadInput):
    """A frame that cannot be compressed losslessly, or a check that failed.

    Parameters
    ----------
    source : str
        The input's name.
    reason : str
        What went wrong.
    """


class FrameTooLargeError(CompressionError, PixelBudgetError):
    """A frame whose header announces more than the pixel budget: not read, not compressed.

    Both a :class:`CompressionError` (what callers of :func:`compress_frame` handle) and a
    :class:`~panoptes_network.frames.pixel_check.PixelBudgetError`.

    Parameters
    ----------
    source : str
        The input's name.
    reason : str
        The announced size and the limit.
    """


@dataclass(frozen=True)
class CompressedFrame:
    """The result of :func:`compress_frame`.

    Attributes
    ----------
    data : bytes
        The ``.fits.fz`` file.
    input_size : int
        Bytes of the input file.
    shape : tuple of int
        Image shape (rows, columns).
    """

    data: bytes
    input_size: int
    shape: tuple[int, int]

    @property
    def ratio(self) -> float:
        """Compression ratio, input bytes over output bytes."""
        return self.input_size / len(self.data)


@dataclass(frozen=True)
class _Input:
    """An uncompressed input, read without copying its pixels.

    Attributes
    ----------
    header_bytes : bytes
        The header's card images up to (not including) ``END``, 80 bytes each.
    stored : numpy.ndarray
        The pixels as stored, shape (rows, columns): a read-only big-endian view of the input
        bytes, before ``BZERO`` (``>i2`` for ``BITPIX = 16``).
    bitpix : int
        ``BITPIX``.
    bzero : int
        ``BZERO`` (0 when absent).
    """

    header_bytes: bytes
    stored: np.ndarray
    bitpix: int
    bzero: int

    def header(self) -> fits.Header:
        """Return the header as astropy reads it."""
        return fits.Header.fromstring(self.header_bytes.decode("ascii"))

    def physical(self) -> np.ndarray:
        """Return a copy of the pixels scaled to their physical integer type, native order."""
        stored_type, flip, physical = _LAYOUTS[(self.bitpix, self.bzero)]
        stored = self.stored.view(stored_type)
        if flip:
            stored = stored ^ stored.dtype.type(flip)
        return stored.astype(stored.dtype.newbyteorder("=")).view(physical)


def _read_input(raw: bytes, source: str, max_pixels: int = MAX_FRAME_PIXELS) -> _Input:
    """Check an uncompressed FITS image and return a view of its stored pixels.

    Parameters
    ----------
    raw : bytes
        The whole file.
    source : str
        Name of the file, for messages.
    max_pixels : int
        Most pixels the image may announce, in pixels.

    Returns
    -------
    _Input
        Its header cards and stored pixels.

    Raises
    ------
    NotFitsError, FrameTooLargeError, CompressionError
        As :func:`read_image_pixels`.
    """
    info = read_header_from_bytes(raw, hdu=0, source=source)
    if info.get("NAXIS") != 2:
        raise CompressionError(source, f"expected a 2-D image, found NAXIS = {info.get('NAXIS')}")
    bitpix = info.get("BITPIX")
    if bitpix not in (8, 16, 32):
        raise CompressionError(source, f"BITPIX = {bitpix} is not an integer image")
    try:
        check_pixel_budget(info, source, max_pixels)
    except PixelBudgetError as exc:
        raise FrameTooLargeError(source, exc.reason) from None
    if len(raw) < info.data_offset + info.data_size:
        raise CompressionError(
            source,
            f"file is truncated: {len(raw)} bytes, but its header announces "
            f"{info.data_offset + info.data_size}",
        )
    ny, nx = info["NAXIS2"], info["NAXIS1"]
    bzero = info.get("BZERO", 0) or 0
    bscale = info.get("BSCALE", 1)
    if bscale not in (1, 1.0, None):
        raise CompressionError(source, f"BSCALE = {bscale} cannot be compressed losslessly here")
    if (bitpix, bzero) not in _LAYOUTS:
        raise CompressionError(source, f"BITPIX = {bitpix} with BZERO = {bzero} is not supported")
    head = bytes(raw[: info.data_offset])
    end = next((i for i in range(0, len(head), _CARD) if head[i : i + 8] == b"END     "), len(head))
    stored = np.frombuffer(raw, dtype=_CODED[bitpix], count=nx * ny, offset=info.data_offset)
    return _Input(head[:end], stored.reshape(ny, nx), bitpix, int(bzero))


def read_image_pixels(
    raw: bytes, source: str = "input", *, max_pixels: int = MAX_FRAME_PIXELS
) -> tuple[fits.Header, np.ndarray]:
    """Read the primary image of an uncompressed FITS file, copying its pixels once.

    The size the header announces (``NAXIS1 * NAXIS2`` pixels of ``|BITPIX|`` / 8 bytes) is
    checked against the pixel budget before any pixel is read.

    Parameters
    ----------
    raw : bytes
        The whole file.
    source : str
        Name of the file, for messages.
    max_pixels : int
        Most pixels the image may announce, in pixels; see
        :func:`~panoptes_network.frames.pixel_check.check_pixel_budget`.

    Returns
    -------
    header : astropy.io.fits.Header
        The primary header.
    pixels : numpy.ndarray
        The image, scaled to its physical integer type (``uint16`` for ``BZERO = 32768``).

    Raises
    ------
    NotFitsError
        If the header cannot be read.
    FrameTooLargeError
        If the header announces more than ``max_pixels`` pixels (or the byte budget).
    CompressionError
        If the image is not a 2-D integer image or the file is truncated.
    """
    frame = _read_input(raw, source, max_pixels)
    return frame.header(), frame.physical()


def default_workers() -> int:
    """Return the number of threads used when none is asked for.

    Returns
    -------
    int
        One per CPU this process may run on, at least 1 and at most :data:`MAX_WORKERS`.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, MAX_WORKERS))


def _workers(workers: int | None) -> int:
    """Return ``workers``, or :func:`default_workers` when it is None."""
    if workers is None:
        return default_workers()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    return workers


def _over_tiles(work: Callable[[range], _T], n_tiles: int, workers: int) -> Iterator[_T]:
    """Run ``work`` over consecutive ranges of tile indices, in threads when ``workers > 1``.

    Parameters
    ----------
    work : callable
        Called with a range of tile indices.
    n_tiles : int
        Number of tiles.
    workers : int
        Threads.

    Yields
    ------
    object
        What ``work`` returned for each range, in tile order, each as soon as it and those
        before it are done.
    """
    n_chunks = min(n_tiles, workers * _CHUNKS_PER_WORKER)
    bounds = [n_tiles * k // n_chunks for k in range(n_chunks + 1)]
    chunks = [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if workers == 1 or n_chunks < 2:
        yield from map(work, chunks)
        return
    with ThreadPoolExecutor(max_workers=min(workers, n_chunks)) as pool:
        yield from pool.map(work, chunks)


def _header_block(cards: Sequence[str]) -> bytes:
    """Return a header: the card images, ``END`` and blank padding to whole 2880-byte blocks."""
    text = "".join(cards) + "END".ljust(_CARD)
    return text.ljust(-(-len(text) // BLOCK_SIZE) * BLOCK_SIZE).encode("ascii")


def _reserve(out: io.BytesIO, size: int) -> None:
    """Make ``out`` hold at least ``size`` bytes (zeros past its end), keeping its position.

    Parameters
    ----------
    out : io.BytesIO
        The buffer.
    size : int
        Bytes, from the start of the buffer.
    """
    position = out.tell()
    if size > out.seek(0, io.SEEK_END):
        out.seek(size - 1)
        out.write(b"\0")
    out.seek(position)


def _card(keyword: str, value: object, comment: str = "") -> str:
    """Return the 80-character image of one card, formatted by astropy."""
    return fits.Card(keyword, value, comment).image


def _image_cards(frame: _Input, source: str) -> list[str]:
    """Return the input's card images as the compressed table carries them.

    ``SIMPLE``, ``BITPIX``, ``NAXISn``, ``BLOCKED``, ``CHECKSUM`` and ``DATASUM`` take their
    ``Z`` names; ``EXTEND`` (and ``XTENSION``, ``PCOUNT``, ``GCOUNT``, which no primary image
    has) are left out; every other card is kept as it is, in the input's order.

    Parameters
    ----------
    frame : _Input
        The input.
    source : str
        Name of the input, for messages.

    Returns
    -------
    list of str
        80-character card images.

    Raises
    ------
    CompressionError
        If a card uses a keyword the binary table or the compression convention reserves.
    """
    head = frame.header_bytes
    cards = []
    for i in range(0, len(head), _CARD):
        image = head[i : i + _CARD].decode("ascii")
        keyword = image[:8].rstrip().upper()
        if keyword in _RENAMED:
            cards.append(_RENAMED[keyword].ljust(8) + image[8:])
        elif keyword in _DROPPED:
            continue
        elif _RESERVED.fullmatch(keyword):
            raise CompressionError(
                source, f"header card {keyword} is reserved for the compressed image's table"
            )
        else:
            cards.append(image)
    return cards


def compress_frame(
    raw: bytes, source: str = "input", *, workers: int | None = None
) -> CompressedFrame:
    """Compress an uncompressed FITS frame with lossless Rice compression.

    Parameters
    ----------
    raw : bytes
        The whole ``.fits`` file.
    source : str
        Name of the file, for messages.
    workers : int, optional
        Threads that encode tiles; by default one per CPU the process may use (at most
        :data:`MAX_WORKERS`). The output is the same for any number.

    Returns
    -------
    CompressedFrame
        The ``.fits.fz`` bytes.

    Raises
    ------
    NotFitsError, CompressionError
        If the input is not a 2-D integer FITS image, or a header card uses a keyword the
        compressed table reserves.
    """
    frame = _read_input(raw, source)
    if frame.stored.size == 0:
        raise CompressionError(source, "the image has no pixels")
    image_cards = _image_cards(frame, source)
    stored = frame.stored
    ny, nx = stored.shape
    rows = min(TILE_ROWS, ny)
    n_tiles = -(-ny // rows)
    bytepix = frame.bitpix // 8

    def encode(tiles: range) -> list[bytes]:
        out = []
        for i in tiles:
            tile = stored[i * rows : (i + 1) * rows]
            codec = Rice1(blocksize=RICE_BLOCK_SIZE, bytepix=bytepix, tilesize=tile.size)
            out.append(codec.encode(tile))
        return out

    def table_header(sizes: np.ndarray) -> bytes:
        return _header_block(
            [
                _card("XTENSION", "BINTABLE", "binary table extension"),
                _card("BITPIX", 8, "8-bit bytes"),
                _card("NAXIS", 2, "2-dimensional binary table"),
                _card("NAXIS1", 8, "width of table in bytes"),
                _card("NAXIS2", n_tiles, "number of rows in table"),
                _card("PCOUNT", int(sizes.sum()), "size of special data area"),
                _card("GCOUNT", 1, "one data group"),
                _card("TFIELDS", 1, "number of fields in each row"),
                _card("TTYPE1", "COMPRESSED_DATA", "label for field 1"),
                _card("TFORM1", f"1PB({int(sizes.max())})", "data format: variable length"),
                _card("ZIMAGE", True, "extension contains compressed image"),
                _card("ZTILE1", nx, "size of tiles to be compressed"),
                _card("ZTILE2", rows, "size of tiles to be compressed"),
                _card("ZCMPTYPE", "RICE_1", "compression algorithm"),
                _card("ZNAME1", "BLOCKSIZE", "compression block size"),
                _card("ZVAL1", RICE_BLOCK_SIZE, "pixels per block"),
                _card("ZNAME2", "BYTEPIX", "bytes per pixel (1, 2, 4, or 8)"),
                _card("ZVAL2", bytepix, "bytes per pixel (1, 2, 4, or 8)"),
                *image_cards,
            ]
        )

    primary = _header_block(
        [
            _card("SIMPLE", True, "conforms to FITS standard"),
            _card("BITPIX", 8, "array data type"),
            _card("NAXIS", 0, "number of array dimensions"),
            _card("EXTEND", True),
        ]
    )
    # The file is written as the tiles come, each tile dropped once written: the table's
    # header and descriptors (which need every tile's size) are filled in last, in place.
    # Their length does not depend on the values.
    out = io.BytesIO()
    out.write(primary)
    table_at = out.tell()
    out.write(bytes(len(table_header(np.zeros(1, dtype=np.int64))) + 8 * n_tiles))
    heap_at = out.tell()
    sizes = np.zeros(n_tiles, dtype=np.int64)
    i = 0
    for part in _over_tiles(encode, n_tiles, _workers(workers)):
        if i == 0 and len(part) < n_tiles:
            # Room for every tile at the rate of the first ones (and 5 % more), at once:
            # growing the buffer a little at a time would copy it again and again.
            expected = sum(map(len, part)) * n_tiles // len(part)
            _reserve(out, heap_at + expected * 21 // 20)
        for tile in part:
            sizes[i] = out.write(tile)
            i += 1
        del part  # no written tile is held while the next ones are coded or awaited
    heap = int(sizes.sum())
    if heap > _MAX_HEAP:
        raise CompressionError(source, f"compressed pixels take {heap} bytes, over {_MAX_HEAP}")
    out.write(bytes(-(8 * n_tiles + heap) % BLOCK_SIZE))
    out.truncate()
    descriptors = np.empty((n_tiles, 2), dtype=">i4")
    descriptors[:, 0] = sizes
    descriptors[:, 1] = np.cumsum(sizes) - sizes
    out.seek(table_at)
    out.write(table_header(sizes))
    out.write(descriptors.tobytes())
    data = out.getvalue()
    return CompressedFrame(data, len(raw), (ny, nx))


@dataclass(frozen=True)
class _Tiles:
    """Where the tiles of a compressed image of whole-row Rice tiles are, and how to decode them.

    Attributes
    ----------
    rows : int
        Image rows per tile (``ZTILE2``).
    descriptors : list of list of int
        (bytes, offset in the heap) of each tile.
    heap : int
        Offset of the heap in the file, in bytes.
    blocksize : int
        Rice block size, in pixels.
    bytepix : int
        Bytes per stored pixel.
    """

    rows: int
    descriptors: list[list[int]]
    heap: int
    blocksize: int
    bytepix: int

    def decode(self, compressed: bytes, i: int, pixels: int) -> np.ndarray | str:
        """Decode tile ``i`` of ``pixels`` pixels: the codec's output, or why it failed."""
        nbytes, offset = self.descriptors[i]
        codec = Rice1(blocksize=self.blocksize, bytepix=self.bytepix, tilesize=pixels)
        buf = np.frombuffer(compressed, dtype=np.uint8, count=nbytes, offset=self.heap + offset)
        try:
            return codec.decode(buf)
        except Exception as exc:  # the codec's own error type is not public
            return f"compressed tile {i} cannot be decoded: {exc}"


def _setting(table: fits.Header, name: str, default: int) -> object:
    """Return the value of the ``ZVALn`` whose ``ZNAMEn`` is ``name``, or ``default``."""
    n = 1
    while f"ZNAME{n}" in table:
        if str(table[f"ZNAME{n}"]).upper() == name:
            return table.get(f"ZVAL{n}")
        n += 1
    return default


def _row_tiles(
    compressed: bytes,
    table: fits.Header,
    image: fits.Header,
    data_offset: int,
    frame: _Input,
    source: str,
) -> _Tiles | None:
    """Read where the tiles are, for a table of whole-row Rice tiles of the input's type.

    Parameters
    ----------
    compressed : bytes
        The ``.fits.fz`` file.
    table : astropy.io.fits.Header
        The binary table's own header (HDU 1).
    image : astropy.io.fits.Header
        The image header astropy reads from it.
    data_offset : int
        Offset of the table's data in the file, in bytes.
    frame : _Input
        The input.
    source : str
        Name of the input, for messages.

    Returns
    -------
    _Tiles or None
        None for any other layout: another algorithm or column, tiles that are not whole
        rows, quantisation, blank values, or a pixel type or scaling other than the input's.

    Raises
    ------
    CompressionError
        If the table has the wrong number of rows, is truncated, or a tile lies outside the
        heap.
    """
    ny, nx = frame.stored.shape
    bytepix = frame.bitpix // 8
    if (
        table.get("ZCMPTYPE") not in ("RICE_1", "RICE_ONE")
        or table.get("TFIELDS") != 1
        or table.get("TTYPE1") != "COMPRESSED_DATA"
        or not _TFORM_PB.fullmatch(str(table.get("TFORM1", "")))
        or table.get("NAXIS1") != 8
        or table.get("ZBITPIX") != frame.bitpix
        or (table.get("BZERO", 0) or 0) != frame.bzero
        or table.get("BSCALE", 1) not in (1, 1.0)
        or table.get("ZTILE1", nx) != nx
        or any(k in table or k in image for k in ("ZQUANTIZ", "ZBLANK", "BLANK", "ZMASKCMP"))
        or _setting(table, "BYTEPIX", 4) != bytepix
    ):
        return None
    rows = table.get("ZTILE2", 1)
    blocksize = _setting(table, "BLOCKSIZE", RICE_BLOCK_SIZE)
    if not isinstance(rows, int) or rows < 1 or not isinstance(blocksize, int) or blocksize < 1:
        return None
    n_tiles = -(-ny // rows)
    if table.get("NAXIS2") != n_tiles:
        raise CompressionError(
            source, f"compressed table has {table.get('NAXIS2')} rows, expected {n_tiles}"
        )
    table_bytes = 8 * n_tiles
    heap_end = table_bytes + int(table.get("PCOUNT", 0))
    theap = int(table.get("THEAP", table_bytes))
    if data_offset + heap_end > len(compressed) or not table_bytes <= theap <= heap_end:
        raise CompressionError(source, "compressed file is truncated")
    descriptors = np.frombuffer(
        compressed, dtype=">i4", count=2 * n_tiles, offset=data_offset
    ).reshape(n_tiles, 2)
    sizes, offsets = descriptors[:, 0].astype(np.int64), descriptors[:, 1].astype(np.int64)
    if np.any(sizes <= 0) or np.any(offsets < 0) or np.any(theap + offsets + sizes > heap_end):
        raise CompressionError(source, "a compressed tile lies outside the file's heap")
    return _Tiles(rows, descriptors.tolist(), data_offset + theap, blocksize, bytepix)


def _check_tiles(
    compressed: bytes, tiles: _Tiles, frame: _Input, source: str, workers: int
) -> None:
    """Decode every tile and compare it with the same rows of the input, bit for bit.

    Parameters
    ----------
    compressed : bytes
        The ``.fits.fz`` file.
    tiles : _Tiles
        Where its tiles are.
    frame : _Input
        The input.
    source : str
        Name of the input, for messages.
    workers : int
        Threads that decode tiles.

    Raises
    ------
    CompressionError
        If a tile cannot be decoded or differs from the input (the first such tile is named).
    """
    stored, rows = frame.stored, tiles.rows
    decoded_type = stored.dtype.newbyteorder("=")  # what the codec gives: native, same width

    def check(chunk: range) -> tuple[int, str] | None:
        for i in chunk:
            expected = stored[i * rows : (i + 1) * rows]
            decoded = tiles.decode(compressed, i, expected.size)
            if isinstance(decoded, str):
                return i, decoded
            if decoded.size != expected.size or not np.array_equal(
                decoded.view(decoded_type).reshape(expected.shape), expected
            ):
                first, last = i * rows, i * rows + expected.shape[0] - 1
                return i, f"decompressed pixels differ from the input (rows {first}-{last})"
        return None

    failures = [f for f in _over_tiles(check, len(tiles.descriptors), workers) if f is not None]
    if failures:
        raise CompressionError(source, min(failures)[1])


def _check_decoded(restored: np.ndarray | None, frame: _Input, source: str) -> None:
    """Compare an image astropy decoded with the input's physical pixels, type included."""
    pixels = frame.physical()
    if restored is None or restored.shape != pixels.shape:
        raise CompressionError(source, "compressed image has the wrong shape")
    if restored.dtype != pixels.dtype or not np.array_equal(restored, pixels):
        raise CompressionError(source, "decompressed pixels differ from the input")


def _check_cards(header: fits.Header, restored: fits.Header, source: str) -> None:
    """Check that every card of the input comes back with its value, and no card is added.

    Structural cards (which the compressed file carries differently) and ``EXTEND`` are left
    out; ``COMMENT`` and ``HISTORY`` cards are compared in order.
    """
    ignored = _STRUCTURAL | _NOT_CARRIED | _COMMENTARY | {"SIMPLE"}
    wanted = {c.keyword: c.value for c in reversed(header.cards) if c.keyword not in ignored}
    got = {c.keyword: c.value for c in reversed(restored.cards) if c.keyword not in ignored}
    for keyword in wanted:
        if keyword not in got:
            raise CompressionError(source, f"header card {keyword} was not kept")
        if wanted[keyword] != got[keyword]:
            raise CompressionError(source, f"header card {keyword} changed")
    for keyword in got.keys() - wanted.keys():
        raise CompressionError(source, f"header card {keyword} was added")
    for kind in ("COMMENT", "HISTORY"):
        if list(header.get(kind, [])) != list(restored.get(kind, [])):
            raise CompressionError(source, f"{kind} cards differ after compression")


def verify_compressed(
    raw: bytes, compressed: bytes, source: str = "input", *, workers: int | None = None
) -> None:
    """Check that a ``.fits.fz`` holds exactly the pixels and cards of the input.

    The compressed bytes are read on their own: astropy parses the file (the image header it
    gives is compared card by card with the input's), and every tile is decoded from the
    bytes and compared with the input's pixels. A file of whole-row Rice tiles with the
    input's pixel type and scaling (what :func:`compress_frame` writes, and fpack) is decoded
    tile by tile, in threads; any other is decoded whole by astropy.

    Parameters
    ----------
    raw : bytes
        The uncompressed input file.
    compressed : bytes
        The ``.fits.fz`` file.
    source : str
        Name of the input, for messages.
    workers : int, optional
        Threads that decode tiles; by default one per CPU the process may use (at most
        :data:`MAX_WORKERS`).

    Raises
    ------
    NotFitsError, CompressionError
        If the input cannot be read as :func:`compress_frame` reads it.
    CompressionError
        If the compressed file cannot be read, or a pixel or a header card differs.
    """
    frame = _read_input(raw, source)
    if frame.stored.size == 0:
        raise CompressionError(source, "the image has no pixels")
    header = frame.header()
    try:
        with fits.open(io.BytesIO(compressed)) as hdus:
            hdu = hdus[1]
            if not isinstance(hdu, fits.CompImageHDU):
                raise CompressionError(source, "HDU 1 is not a compressed image")
            restored_header = hdu.header
            where = hdus.fileinfo(1)
            table = fits.Header.fromstring(
                bytes(compressed[where["hdrLoc"] : where["datLoc"]]).decode("ascii")
            )
            if (table.get("ZNAXIS"), table.get("ZNAXIS2"), table.get("ZNAXIS1")) != (
                2,
                *frame.stored.shape,
            ):
                raise CompressionError(source, "compressed image has the wrong shape")
            data_size = table.get("NAXIS1", 0) * table.get("NAXIS2", 0) + table.get("PCOUNT", 0)
            if len(compressed) < where["datLoc"] + -(-data_size // BLOCK_SIZE) * BLOCK_SIZE:
                raise CompressionError(source, "compressed file is truncated")
            tiles = _row_tiles(compressed, table, restored_header, where["datLoc"], frame, source)
            if tiles is None:
                _check_decoded(hdu.data, frame, source)
            else:
                _check_tiles(compressed, tiles, frame, source, _workers(workers))
            _check_cards(header, restored_header, source)
    except (OSError, ValueError, IndexError, KeyError) as exc:
        if isinstance(exc, CompressionError):
            raise
        raise CompressionError(source, f"compressed file cannot be read back: {exc}") from exc


def decode_compressed(
    compressed: bytes,
    *,
    workers: int | None = None,
    source: str = "input",
    max_pixels: int = MAX_FRAME_PIXELS,
) -> tuple[fits.Header, np.ndarray] | None:
    """Decode the image of a ``.fits.fz`` of whole-row Rice tiles, tile by tile in threads.

    The layout :func:`compress_frame` and fpack write (an empty primary HDU, the image in
    HDU 1 as whole-row Rice tiles of a 2-D integer image without quantisation or blank
    values). Each tile is decoded straight into its rows of the output; the pixels are then
    scaled to their physical type (``uint16`` for ``BZERO = 32768``), as astropy gives them.

    Parameters
    ----------
    compressed : bytes
        The ``.fits.fz`` file.
    workers : int, optional
        Threads that decode tiles; by default one per CPU the process may use (at most
        :data:`MAX_WORKERS`).
    source : str
        Name of the file, for messages.
    max_pixels : int
        Most pixels the image may announce; checked on its header before any pixel is
        allocated (:func:`~panoptes_network.frames.pixel_check.check_pixel_budget`).

    Returns
    -------
    (astropy.io.fits.Header, numpy.ndarray) or None
        The image header and its pixels (a new array, native byte order); None for any other
        layout, for the caller to read with astropy.

    Raises
    ------
    PixelBudgetError
        If the image header announces more than ``max_pixels`` pixels.
    CompressionError
        If the file is truncated, a tile lies outside the heap or cannot be decoded.
    OSError, ValueError
        If astropy cannot parse the file's headers.
    """
    with fits.open(io.BytesIO(compressed), lazy_load_hdus=True) as hdus:
        if len(hdus) < 2 or not isinstance(hdus[1], fits.CompImageHDU):
            return None
        image = hdus[1].header.copy()
        where = hdus.fileinfo(1)
    check_pixel_budget(image, source, max_pixels)
    table = fits.Header.fromstring(
        bytes(compressed[where["hdrLoc"] : where["datLoc"]]).decode("ascii")
    )
    bitpix, bzero = table.get("ZBITPIX"), table.get("BZERO", 0) or 0
    if table.get("ZNAXIS") != 2 or (bitpix, bzero) not in _LAYOUTS:
        return None
    shape = (int(table["ZNAXIS2"]), int(table["ZNAXIS1"]))
    stored_type, flip, physical = _LAYOUTS[(bitpix, bzero)]
    # The tiles' geometry and checks are those of the verification, for an image of this
    # type and shape (no pixels are read from it).
    layout = _Input(b"", np.empty(shape, dtype=stored_type), bitpix, bzero)
    tiles = _row_tiles(compressed, table, image, where["datLoc"], layout, source)
    if tiles is None or 0 in shape:
        return None
    native = np.dtype(stored_type).newbyteorder("=")
    out = np.empty(shape, dtype=native)
    rows = tiles.rows

    def decode(chunk: range) -> str | None:
        for i in chunk:
            target = out[i * rows : (i + 1) * rows]
            decoded = tiles.decode(compressed, i, target.size)
            if isinstance(decoded, str):
                return decoded
            if decoded.size != target.size:
                return f"compressed tile {i} decodes to {decoded.size} pixels, not {target.size}"
            target[...] = decoded.view(native).reshape(target.shape)
        return None

    failures = [f for f in _over_tiles(decode, len(tiles.descriptors), _workers(workers)) if f]
    if failures:
        raise CompressionError(source, failures[0])
    if flip:
        out ^= out.dtype.type(flip)
    return image, out.view(physical)
