"""A streaming FITS header reader that needs only ranged reads.

A PANOPTES frame is about 36 MB, but its header is a few 2880-byte blocks. This module reads
just those blocks through a ``read_range(start, length)`` callable, so a header can come from
a local file, a byte string or a ranged HTTP read of a Cloud Storage object alike, and the
number of bytes read is bounded by ``max_header_bytes``.

For a tile-compressed file (``.fits.fz``) the image header is in HDU 1, stored in a binary
table's header; :func:`read_header` returns it translated back to the image header (``ZBITPIX``
becomes ``BITPIX`` and so on), the way astropy's ``CompImageHDU.header`` shows it.

Values are typed as FITS defines them: logical (bool), integer (int), real (float), string
(str, trailing blanks removed), and undefined (None). ``COMMENT`` and ``HISTORY`` cards are
gathered into lists of strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_MAX_HEADER_BYTES",
    "NotFitsError",
    "HeaderTooLargeError",
    "FitsHeader",
    "HeaderCard",
    "RangeReader",
    "parse_card",
    "read_header",
    "read_header_from_bytes",
    "read_header_from_file",
]

#: A FITS file is made of 2880-byte blocks.
BLOCK_SIZE = 2880
CARD_SIZE = 80
#: Default bound on the bytes read for one header (100 blocks, 3600 cards).
DEFAULT_MAX_HEADER_BYTES = 100 * BLOCK_SIZE

#: ``read_range(start, length)`` returns up to ``length`` bytes from byte ``start``;
#: fewer only at the end of the object.
RangeReader = Callable[[int, int], bytes]

_COMMENTARY = ("COMMENT", "HISTORY", "")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?")
_COMPLEX = re.compile(r"\(\s*([^,]+?)\s*,\s*([^)]+?)\s*\)")

# Keywords of the binary table that holds a compressed image: not part of the image header.
_TABLE_ONLY = re.compile(
    r"(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|T(TYPE|FORM|UNIT|DIM|SCAL|ZERO|NULL)\d+"
    r"|ZIMAGE|ZCMPTYPE|ZTILE\d+|ZNAME\d+|ZVAL\d+|ZQUANTIZ|ZDITHER0|ZMASKCMP|ZBLOCKED"
    r"|CHECKSUM|DATASUM)"
)
# Compressed-image keywords that carry the image's own structural keywords.
_RENAMED = {
    "ZSIMPLE": "SIMPLE",
    "ZTENSION": "XTENSION",
    "ZBITPIX": "BITPIX",
    "ZNAXIS": "NAXIS",
    "ZEXTEND": "EXTEND",
    "ZPCOUNT": "PCOUNT",
    "ZGCOUNT": "GCOUNT",
    "ZHECKSUM": "CHECKSUM",
    "ZDATASUM": "DATASUM",
}
_ZNAXISN = re.compile(r"ZNAXIS(\d+)")


class NotFitsError(BadInput):
    """The bytes are not a readable FITS header.

    Parameters
    ----------
    source : str
        What was read (an object or file name), for the message.
    reason : str
        What is wrong.
    """

    def __init__(self, source: str, reason: str):
        super().__init__(source, reason)
        self.args = (f"{source} is not a readable FITS file: {reason}",)


class HeaderTooLargeError(NotFitsError):
    """The header did not end within the allowed number of bytes."""


@dataclass(frozen=True)
class HeaderCard:
    """One header card.

    Attributes
    ----------
    keyword : str
        The keyword (``HIERARCH`` keywords without the ``HIERARCH`` prefix).
    value : bool, int, float, str, complex or None
        The typed value; the text for commentary cards.
    comment : str
        The comment after ``/``, stripped.
    """

    keyword: str
    value: Any
    comment: str = ""


def _parse_string(text: str) -> tuple[str, str]:
    """Parse a quoted FITS string at the start of ``text``; return (value, rest)."""
    chars: list[str] = []
    i = 1
    while i < len(text):
        if text[i] == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                chars.append("'")
                i += 2
                continue
            return "".join(chars).rstrip(), text[i + 1 :]
        chars.append(text[i])
        i += 1
    raise ValueError("unterminated string")


def _parse_number(token: str) -> int | float | complex:
    if _INT.fullmatch(token):
        return int(token)
    if _FLOAT.fullmatch(token):
        return float(token.replace("D", "E").replace("d", "e"))
    match = _COMPLEX.fullmatch(token)
    if match:
        return complex(_parse_number(match.group(1)), _parse_number(match.group(2)))
    raise ValueError(f"unparseable value {token!r}")


def _split_comment(rest: str) -> str:
    rest = rest.strip()
    return rest[1:].strip() if rest.startswith("/") else rest


def parse_card(card: str) -> HeaderCard:
    """Parse one 80-character card.

    Parameters
    ----------
    card : str
        The card image (ASCII, up to 80 characters).

    Returns
    -------
    HeaderCard
        The keyword, typed value and comment.

    Raises
    ------
    ValueError
        If a value is present but cannot be read as any FITS type.
    """
    keyword = card[:8].rstrip()
    if keyword == "HIERARCH" and "=" in card:
        name, _, valuetext = card[8:].partition("=")
        keyword, body = name.strip(), valuetext
    elif card[8:10] == "= " and keyword not in _COMMENTARY:
        body = card[10:]
    elif keyword == "CONTINUE":
        body = card[8:]
    else:
        return HeaderCard(keyword, card[8:].rstrip())
    stripped = body.lstrip()
    if stripped.startswith("'"):
        value, rest = _parse_string(stripped)
        return HeaderCard(keyword, value, _split_comment(rest))
    token, _, comment = stripped.partition("/")
    token = token.strip()
    if token == "":
        return HeaderCard(keyword, None, comment.strip())
    if token in ("T", "F"):
        return HeaderCard(keyword, token == "T", comment.strip())
    return HeaderCard(keyword, _parse_number(token), comment.strip())


@dataclass
class FitsHeader:
    """The header of one HDU, with where it sits in the file.

    Attributes
    ----------
    cards : list of HeaderCard
        Cards in file order (``CONTINUE`` strings already joined).
    hdu : int
        Index of the HDU in the file.
    header_offset : int
        Byte offset of the header's first block.
    data_offset : int
        Byte offset of the data that follows the header.
    data_size : int
        Size in bytes of the data, without the padding to whole blocks.
    bytes_read : int
        Bytes fetched from the source to read this header.
    compressed : bool
        True when the HDU is a tile-compressed image and ``cards`` were translated.
    """

    cards: list[HeaderCard]
    hdu: int = 0
    header_offset: int = 0
    data_offset: int = 0
    data_size: int = 0
    bytes_read: int = 0
    compressed: bool = False
    _index: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for card in self.cards:
            key = card.keyword.upper()
            if key not in _COMMENTARY and key not in self._index:
                self._index[key] = card.value

    def __contains__(self, keyword: str) -> bool:
        return keyword.upper() in self._index

    def __getitem__(self, keyword: str) -> Any:
        return self._index[keyword.upper()]

    def get(self, keyword: str, default: Any = None) -> Any:
        """Return the first value of ``keyword``, or ``default`` when it is absent.

        Parameters
        ----------
        keyword : str
            Keyword, any case.
        default : object
            Returned when the keyword is absent.

        Returns
        -------
        object
            The typed value.
        """
        return self._index.get(keyword.upper(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    @property
    def padded_data_size(self) -> int:
        """Data size rounded up to whole blocks, in bytes."""
        return math.ceil(self.data_size / BLOCK_SIZE) * BLOCK_SIZE

    def to_dict(self) -> dict[str, Any]:
        """Return the header as a JSON-ready mapping.

        Returns
        -------
        dict
            Keyword to typed value; ``COMMENT`` and ``HISTORY`` map to lists of strings, and
            complex values to ``[real, imag]``. The first of repeated keywords wins.
        """
        out: dict[str, Any] = {}
        for card in self.cards:
            if card.keyword in ("COMMENT", "HISTORY"):
                out.setdefault(card.keyword, []).append(card.value)
            elif card.keyword == "" or card.keyword in out:
                continue
            elif isinstance(card.value, complex):
                out[card.keyword] = [card.value.real, card.value.imag]
            else:
                out[card.keyword] = card.value
        return out


def _join_continue(cards: list[HeaderCard]) -> list[HeaderCard]:
    """Join the long-string ``CONTINUE`` convention into single cards."""
    joined: list[HeaderCard] = []
    for card in cards:
        previous = joined[-1] if joined else None
        if (
            card.keyword == "CONTINUE"
            and previous is not None
            and isinstance(previous.value, str)
            and previous.value.endswith("&")
            and isinstance(card.value, str)
        ):
            comment = " ".join(c for c in (previous.comment, card.comment) if c)
            joined[-1] = HeaderCard(previous.keyword, previous.value[:-1] + card.value, comment)
        else:
            joined.append(card)
    return joined


def _data_size(index: dict[str, Any]) -> int:
    naxis = index.get("NAXIS", 0)
    bitpix = index.get("BITPIX", 8)
    if not isinstance(naxis, int) or not isinstance(bitpix, int) or naxis < 0:
        raise ValueError("NAXIS and BITPIX must be integers")
    if naxis == 0:
        return 0
    count = 1
    for axis in range(1, naxis + 1):
        length = index.get(f"NAXIS{axis}")
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"NAXIS{axis} is missing or not a non-negative integer")
        count *= length
    pcount = index.get("PCOUNT", 0) or 0
    gcount = index.get("GCOUNT", 1) or 1
    return abs(bitpix) // 8 * gcount * (pcount + count)


def _image_cards(table_cards: list[HeaderCard]) -> list[HeaderCard]:
    """Translate a compressed image's table header into the image header."""
    keywords = {c.keyword for c in table_cards}
    cards: list[HeaderCard] = []
    if "ZSIMPLE" not in keywords and "ZTENSION" not in keywords:
        cards.append(HeaderCard("XTENSION", "IMAGE", "Image extension"))
    for card in table_cards:
        if card.keyword in _RENAMED:
            cards.append(HeaderCard(_RENAMED[card.keyword], card.value, card.comment))
        elif _ZNAXISN.fullmatch(card.keyword):
            cards.append(HeaderCard(card.keyword[1:], card.value, card.comment))
        elif card.keyword == "EXTNAME" and card.value == "COMPRESSED_IMAGE":
            continue
        elif not _TABLE_ONLY.fullmatch(card.keyword):
            cards.append(card)
    return cards


class _BlockSource:
    """Reads whole blocks from a RangeReader in growing chunks, counting bytes."""

    def __init__(self, reader: RangeReader, source: str, size: int | None):
        self.reader = reader
        self.source = source
        self.size = size
        self.bytes_read = 0

    def read(self, start: int, length: int) -> bytes:
        if self.size is not None:
            length = max(0, min(length, self.size - start))
        if length == 0:
            return b""
        chunk = self.reader(start, length)
        self.bytes_read += len(chunk)
        return chunk


def _read_one_header(
    blocks: _BlockSource, offset: int, hdu: int, max_bytes: int, first_chunk: int
) -> FitsHeader:
    raw_cards: list[HeaderCard] = []
    position = offset
    chunk_size = first_chunk
    while True:
        if position - offset >= max_bytes:
            raise HeaderTooLargeError(
                blocks.source, f"HDU {hdu} header has no END card within {max_bytes} bytes"
            )
        want = min(chunk_size, offset + max_bytes - position)
        chunk = blocks.read(position, want)
        whole = len(chunk) - len(chunk) % BLOCK_SIZE
        if whole == 0:
            where = "the file is empty" if position == 0 else f"it ends at byte {position}"
            raise NotFitsError(blocks.source, f"HDU {hdu} header is incomplete: {where}")
        for start in range(0, whole, CARD_SIZE):
            image = chunk[start : start + CARD_SIZE]
            try:
                text = image.decode("ascii")
            except UnicodeDecodeError:
                raise NotFitsError(
                    blocks.source, f"HDU {hdu} header holds non-ASCII bytes"
                ) from None
            if not raw_cards and position + start == offset:
                expected = "SIMPLE  =" if hdu == 0 else "XTENSION="
                if not text.startswith(expected):
                    raise NotFitsError(
                        blocks.source, f"HDU {hdu} does not start with {expected.rstrip('= ')}"
                    )
            if text.startswith("END") and text[3:].strip() == "":
                header_end = position + start + CARD_SIZE
                data_offset = math.ceil(header_end / BLOCK_SIZE) * BLOCK_SIZE
                cards = _join_continue(raw_cards)
                index = {c.keyword: c.value for c in reversed(cards)}
                try:
                    size = _data_size(index)
                except ValueError as exc:
                    raise NotFitsError(blocks.source, f"HDU {hdu}: {exc}") from None
                return FitsHeader(cards, hdu, offset, data_offset, size)
            try:
                raw_cards.append(parse_card(text))
            except ValueError as exc:
                raise NotFitsError(
                    blocks.source, f"HDU {hdu} card {text[:8].strip()!r}: {exc}"
                ) from None
        position += whole
        if len(chunk) < want:
            raise NotFitsError(blocks.source, f"HDU {hdu} header ends before its END card")
        chunk_size *= 2


def read_header(
    reader: RangeReader,
    *,
    hdu: int | None = None,
    size: int | None = None,
    source: str = "input",
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    first_chunk: int = 4 * BLOCK_SIZE,
) -> FitsHeader:
    """Read one HDU's header through ranged reads.

    Parameters
    ----------
    reader : RangeReader
        ``reader(start, length)`` returns bytes ``start`` to ``start + length``.
    hdu : int, optional
        HDU to read. By default the image header: HDU 1 when HDU 0 has no data and HDU 1 is a
        compressed image (a ``.fits.fz`` file), else HDU 0.
    size : int, optional
        Size of the object in bytes, when known; reads never go past it.
    source : str
        Name of what is read, for error messages.
    max_header_bytes : int
        Bound on the bytes of any one header, in bytes. With ``hdu`` > 0 the headers before
        it are read too, each under the same bound.
    first_chunk : int
        Bytes asked for by the first read of each header; later reads double it.

    Returns
    -------
    FitsHeader
        The header, translated to the image header for a compressed image.

    Raises
    ------
    NotFitsError
        If the bytes are not FITS, a header is incomplete, or the HDU does not exist.
    HeaderTooLargeError
        If a header does not end within ``max_header_bytes``.
    """
    if hdu is not None and hdu < 0:
        raise ValueError("hdu must be >= 0")
    # Whole blocks only: round the first read up and the bound down (to one block at least).
    first_chunk = max(1, math.ceil(first_chunk / BLOCK_SIZE)) * BLOCK_SIZE
    max_header_bytes = max(1, max_header_bytes // BLOCK_SIZE) * BLOCK_SIZE
    blocks = _BlockSource(reader, source, size)
    header = _read_one_header(blocks, 0, 0, max_header_bytes, first_chunk)
    target = hdu
    if target is None:
        target = 1 if header.data_size == 0 and header.get("EXTEND") is True else 0
    index = 0
    while index < target:
        offset = header.data_offset + header.padded_data_size
        if (size is not None and offset >= size) or (
            size is None and hdu is None and not blocks.read(offset, BLOCK_SIZE)
        ):
            if hdu is None:
                break  # no extension after an empty primary: the primary is the answer
            raise NotFitsError(source, f"HDU {target} does not exist (the file has {index + 1})")
        index += 1
        header = _read_one_header(blocks, offset, index, max_header_bytes, first_chunk)
    if hdu is None and index == 1 and header.get("ZIMAGE") is not True:
        # An extension that is not a compressed image: the caller asked for "the image".
        header = _read_one_header(blocks, 0, 0, max_header_bytes, first_chunk)
    if header.get("ZIMAGE") is True:
        header = FitsHeader(
            _image_cards(header.cards),
            header.hdu,
            header.header_offset,
            header.data_offset,
            header.data_size,
            compressed=True,
        )
    header.bytes_read = blocks.bytes_read
    return header


def read_header_from_bytes(data: bytes, **kwargs: Any) -> FitsHeader:
    """Read a header from bytes in memory; see :func:`read_header` for the keywords.

    Parameters
    ----------
    data : bytes
        The whole file, or at least its first blocks.
    **kwargs
        Passed to :func:`read_header`.

    Returns
    -------
    FitsHeader
        The header.
    """
    view = memoryview(data)
    kwargs.setdefault("size", len(data))
    return read_header(lambda start, length: bytes(view[start : start + length]), **kwargs)


def read_header_from_file(path: str | Path, **kwargs: Any) -> FitsHeader:
    """Read a header from a local file, reading only its header blocks.

    Parameters
    ----------
    path : str or Path
        The FITS file.
    **kwargs
        Passed to :func:`read_header`.

    Returns
    -------
    FitsHeader
        The header.
    """
    path = Path(path)
    kwargs.setdefault("source", str(path))
    kwargs.setdefault("size", path.stat().st_size)
    with path.open("rb") as handle:

        def reader(start: int, length: int) -> bytes:
            handle.seek(start)
            return handle.read(length)

        return read_header(reader, **kwargs)
