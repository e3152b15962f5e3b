"""Unit tests for panoptes_network.frames.fits_header, checked against astropy.io.fits.

Values are compared exactly (type and value): both readers parse the same decimal text of a
card, so a float must come out bit-identical; ``bool`` and ``int`` must not be confused.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from panoptes_network.frames.fits_header import (
    BLOCK_SIZE,
    DEFAULT_MAX_HEADER_BYTES,
    FitsHeader,
    HeaderTooLargeError,
    NotFitsError,
    parse_card,
    read_header,
    read_header_from_bytes,
    read_header_from_file,
)
from tests.conftest import DATA_DIR

KNOWN_FIXTURES = ["noheader.fits", "solved.fits.fz", "tiny.fits", "unsolved.fits"]
FIXTURES = sorted(
    {p.name for p in DATA_DIR.glob("*.fits")}
    | {p.name for p in DATA_DIR.glob("*.fits.fz")}
    | set(KNOWN_FIXTURES)
)
COMMENTARY = {"COMMENT", "HISTORY", ""}


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def astropy_value(value):
    """Astropy's value with its ``Undefined`` marker mapped to None."""
    return None if isinstance(value, fits.card.Undefined) else value


def assert_same_as_astropy(ours: FitsHeader, ah: fits.Header) -> None:
    """Every non-commentary keyword: same value, same type, same comment; same lists."""
    keys = [k for k in ah.keys() if k not in COMMENTARY]
    assert set(ours) - COMMENTARY == set(keys)
    first = {}
    for card in ours.cards:
        first.setdefault(card.keyword, card)
    for key in keys:
        expected = astropy_value(ah[key])
        got = ours[key]
        assert type(got) is type(expected), (key, got, expected)
        assert got == expected, key
        assert first[key].comment == ah.comments[key], key
        assert key in ours
        assert ours.get(key) == expected
    as_dict = ours.to_dict()
    for kind in ("COMMENT", "HISTORY"):
        expected_list = [str(v) for v in ah[kind]] if kind in ah else []
        assert as_dict.get(kind, []) == expected_list, kind
    for key in keys:
        value = astropy_value(ah[key])
        if isinstance(value, complex):
            assert as_dict[key] == [value.real, value.imag]
        else:
            assert as_dict[key] == value
            assert type(as_dict[key]) is type(value)


def card(keyword: str, value: str = "", comment: str = "") -> str:
    """One raw 80-character card with a value field written as given."""
    text = f"{keyword:<8}= {value:>20}"
    if comment:
        text += f" / {comment}"
    assert len(text) <= 80
    return text.ljust(80)


def raw_header(cards: list[str], end: bool = True) -> bytes:
    """Cards (+ END) padded with blanks to whole blocks."""
    text = "".join(c.ljust(80) for c in cards) + ("END".ljust(80) if end else "")
    padded = math.ceil(len(text) / BLOCK_SIZE) * BLOCK_SIZE
    return text.ljust(padded).encode("ascii")


def raw_image(extra: list[str], shape=(3, 4), bitpix=16, fill=0) -> bytes:
    """A primary image file written by hand: header, data and zero padding."""
    ny, nx = shape
    cards = [
        card("SIMPLE", "T"),
        card("BITPIX", str(bitpix)),
        card("NAXIS", "2"),
        card("NAXIS1", str(nx)),
        card("NAXIS2", str(ny)),
        *extra,
    ]
    nbytes = nx * ny * abs(bitpix) // 8
    data = bytes([fill]) * nbytes
    data += b"\0" * (-len(data) % BLOCK_SIZE)
    return raw_header(cards) + data


def to_bytes(hdus) -> bytes:
    out = io.BytesIO()
    fits.HDUList(hdus).writeto(out)
    return out.getvalue()


class RecordingReader:
    """A RangeReader over bytes that records every (start, length) call."""

    def __init__(self, data: bytes):
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, length: int) -> bytes:
        self.calls.append((start, length))
        return self.data[start : start + length]

    @property
    def total(self) -> int:
        return sum(len(self.data[s : s + n]) for s, n in self.calls)


def layout(raw: bytes) -> list[dict]:
    """Astropy's view of where each HDU sits (compressed images left as tables)."""
    with fits.open(io.BytesIO(raw), disable_image_compression=True) as hdul:
        return [
            {
                "hdrLoc": h.fileinfo()["hdrLoc"],
                "datLoc": h.fileinfo()["datLoc"],
                "datSpan": h.fileinfo()["datSpan"],
                "size": h.size,
            }
            for h in hdul
        ]


# --------------------------------------------------------------------------------------
# Real fixture files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_header_matches_astropy(panoptes_data, name):
    path = panoptes_data / name
    if not path.exists():
        pytest.skip(f"{name} is not in {panoptes_data}")
    ours = read_header_from_file(path)
    with fits.open(path) as hdul:
        if name.endswith(".fz"):
            # the decompressed image header is HDU 1
            assert ours.hdu == 1
            assert ours.compressed is True
            ah = hdul[1].header
        else:
            assert ours.hdu == 0
            assert ours.compressed is False
            ah = hdul[0].header
        assert_same_as_astropy(ours, ah)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_every_hdu_matches_astropy(panoptes_data, name):
    path = panoptes_data / name
    if not path.exists():
        pytest.skip(f"{name} is not in {panoptes_data}")
    raw = path.read_bytes()
    places = layout(raw)
    with fits.open(path) as hdul:
        assert len(hdul) == len(places)
        for index, place in enumerate(places):
            ours = read_header_from_file(path, hdu=index)
            assert ours.hdu == index
            assert_same_as_astropy(ours, hdul[index].header)
            assert ours.header_offset == place["hdrLoc"]
            assert ours.data_offset == place["datLoc"]
            assert ours.data_size == place["size"]
            assert ours.padded_data_size == place["datSpan"]
            # the same through bytes in memory
            same = read_header_from_bytes(raw, hdu=index)
            assert same.cards == ours.cards
            assert (same.data_offset, same.data_size) == (ours.data_offset, ours.data_size)
    # the last HDU's data ends the file
    last = read_header_from_file(path, hdu=len(places) - 1)
    assert last.data_offset + last.padded_data_size == len(raw)


def test_fixture_cards_and_known_values(panoptes_data):
    ours = read_header_from_file(panoptes_data / "tiny.fits")
    with fits.open(panoptes_data / "tiny.fits") as hdul:
        ah = hdul[0].header
        assert [c.keyword for c in ours.cards] == list(ah.keys())
    # types that matter downstream: T is bool, 100 is int, 120.4 is float, '' stays ''
    assert ours["SIMPLE"] is True
    assert type(ours["ISO"]) is int
    assert type(ours["EXPTIME"]) is float
    assert ours["WBRGGB"] == ""
    assert ours["FILTER"] == "RGGB"  # trailing blanks of 'RGGB    ' removed
    assert ours.get("exptime") == ours["EXPTIME"]  # keyword lookup is case-insensitive
    assert "exptime" in ours
    assert ours.get("NOPE", "default") == "default"
    with pytest.raises(KeyError):
        ours["NOPE"]


def test_compressed_fixture_translation(panoptes_data):
    ours = read_header_from_file(panoptes_data / "solved.fits.fz")
    with fits.open(panoptes_data / "solved.fits.fz", disable_image_compression=True) as hdul:
        table = hdul[1].header
        assert table["ZIMAGE"] is True
        assert ours["BITPIX"] == table["ZBITPIX"]
        assert ours["NAXIS1"] == table["ZNAXIS1"]
        assert ours["NAXIS2"] == table["ZNAXIS2"]
    for table_only in ("ZIMAGE", "ZCMPTYPE", "TFIELDS", "TTYPE1", "TFORM1", "PCOUNT", "ZTILE1"):
        assert table_only not in ours
    assert ours.get("EXTNAME") != "COMPRESSED_IMAGE"


def test_fpack_output_matches_astropy(panoptes_data, tmp_path):
    import shutil
    import subprocess

    if shutil.which("fpack") is None:
        pytest.skip("fpack is not installed")
    out = tmp_path / "tiny.fits.fz"
    subprocess.run(["fpack", "-O", str(out), str(panoptes_data / "tiny.fits")], check=True)
    ours = read_header_from_file(out)
    assert ours.compressed and ours.hdu == 1
    with fits.open(out) as hdul:
        assert_same_as_astropy(ours, hdul[1].header)
    # fpack keeps the original primary header: the image keywords come back unchanged
    original = read_header_from_file(panoptes_data / "tiny.fits")
    for key in original:
        if key not in ("CHECKSUM", "DATASUM"):
            assert ours[key] == original[key], key
            assert type(ours[key]) is type(original[key]), key


# --------------------------------------------------------------------------------------
# Synthetic headers written by astropy
# --------------------------------------------------------------------------------------

LONG_STRING = "x" * 50 + "O'Brien " * 20 + "end"


def synthetic_header() -> fits.Header:
    h = fits.Header()
    h["QUOTE"] = "O'HARA"
    h["QUOTES2"] = "''"
    h["SLASH"] = ("a/b / d", "slash / in comment")
    h["TRAIL"] = "abc   "
    h["LEAD"] = "   abc"
    h["EMPTY"] = ""
    h["BLANKS"] = "    "
    h["UNDEF"] = None
    h["UNDEFC"] = (None, "undefined with a comment")
    h["LOGT"] = True
    h["LOGF"] = (False, "false")
    h["ZERO"] = 0
    h["ONE"] = 1
    h["NEGINT"] = -42
    h["BIGINT"] = 12345678901234567
    h["HUGEINT"] = 2**70
    h["FLOATE"] = 1.5e-30
    h["FLOATBIG"] = -6.02e23
    h["FLOATN"] = -2.25
    h["FLOATI"] = 3.0
    h["HIERARCH ESO DET CHIP NAME"] = "ccd1"
    h["HIERARCH ESO TEL AIRM START"] = (1.234, "airmass")
    h["LONGSTR"] = LONG_STRING
    h["LONGBOTH"] = ("y" * 100, "z" * 100)
    h["CPLX"] = complex(1.5, -2.0)
    h["CPLXI"] = complex(3, 4)
    h["COMMENT"] = "a comment"
    h["COMMENT"] = "  another, indented"
    h["HISTORY"] = "a history"
    h["HISTORY"] = "with = sign / and slash"
    h.append(fits.Card.fromstring("DEXP    =              1.5D+03 / D exponent"))
    h.append(fits.Card.fromstring("DEXP2   =               -2.0D-2"))
    h.append(fits.Card.fromstring("EEXP    =              -7.5E+02"))
    return h


@pytest.fixture(scope="module")
def synthetic_file() -> bytes:
    return to_bytes(
        [fits.PrimaryHDU(np.arange(12, dtype=np.int16).reshape(3, 4), synthetic_header())]
    )


def test_synthetic_header_matches_astropy(synthetic_file, tmp_path):
    path = tmp_path / "synthetic.fits"
    path.write_bytes(synthetic_file)
    ours = read_header_from_file(path)
    with fits.open(path) as hdul:
        assert_same_as_astropy(ours, hdul[0].header)


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("QUOTE", "O'HARA"),
        ("QUOTES2", "''"),
        ("SLASH", "a/b / d"),
        ("TRAIL", "abc"),
        ("LEAD", "   abc"),
        ("EMPTY", ""),
        ("BLANKS", ""),
        ("UNDEF", None),
        ("UNDEFC", None),
        ("LOGT", True),
        ("LOGF", False),
        ("ZERO", 0),
        ("ONE", 1),
        ("NEGINT", -42),
        ("BIGINT", 12345678901234567),
        ("HUGEINT", 2**70),
        ("FLOATE", 1.5e-30),
        ("FLOATBIG", -6.02e23),
        ("FLOATN", -2.25),
        ("FLOATI", 3.0),
        ("ESO DET CHIP NAME", "ccd1"),
        ("ESO TEL AIRM START", 1.234),
        ("LONGSTR", LONG_STRING),
        ("LONGBOTH", "y" * 100),
        ("CPLX", complex(1.5, -2.0)),
        ("CPLXI", complex(3, 4)),
        ("DEXP", 1500.0),
        ("DEXP2", -0.02),
        ("EEXP", -750.0),
    ],
)
def test_synthetic_values_and_types(synthetic_file, keyword, expected):
    ours = read_header_from_bytes(synthetic_file)
    assert keyword in ours
    assert type(ours[keyword]) is type(expected)
    assert ours[keyword] == expected


def test_synthetic_comments_and_commentary(synthetic_file):
    ours = read_header_from_bytes(synthetic_file)
    comments = {c.keyword: c.comment for c in ours.cards}
    assert comments["SLASH"] == "slash / in comment"
    assert comments["UNDEFC"] == "undefined with a comment"
    assert comments["DEXP"] == "D exponent"
    assert comments["ESO TEL AIRM START"] == "airmass"
    # CONTINUE comments are joined like astropy joins them
    with fits.open(io.BytesIO(synthetic_file)) as hdul:
        assert comments["LONGBOTH"] == hdul[0].header.comments["LONGBOTH"]
    as_dict = ours.to_dict()
    assert as_dict["COMMENT"] == ["a comment", "  another, indented"]
    assert as_dict["HISTORY"] == ["a history", "with = sign / and slash"]
    assert as_dict["CPLX"] == [1.5, -2.0]
    # CONTINUE cards are folded into their keyword, not left as cards
    assert "CONTINUE" not in ours
    assert all(c.keyword != "CONTINUE" for c in ours.cards)


def test_long_string_continue_cards_are_really_written(synthetic_file):
    # guard: the test above only means something if astropy wrote CONTINUE cards
    text = synthetic_file[: 3 * BLOCK_SIZE].decode("ascii")
    cards = [text[i : i + 80] for i in range(0, len(text), 80)]
    assert sum(c.startswith("CONTINUE") for c in cards) >= 4
    assert any(c.startswith("HIERARCH") for c in cards)
    assert any("1.5D+03" in c for c in cards)


@pytest.mark.parametrize(
    "text",
    [
        "KEY     = '   '",
        "KEY     = ' '",
        "KEY     = '' / c",
        "KEY     =                    / only comment",
        "KEY     =",
        "KEY     = 1.",
        "KEY     = .5",
        "KEY     = +3",
        "KEY     = -0",
        "KEY     = 1.5D-3",
        "KEY     = 1E5",
        "KEY     = -1.0E-05 / negative exponent",
        "KEY     = (1, 2)",
        "KEY     = (1.5D2, -2E-1) / cplx",
        "KEY     = 'a/b' / c/d",
        "KEY     = 'it''s'",
        "KEY     = '''quoted'''",
        "KEY     = T / yes",
        "KEY     =                    F",
        "HIERARCH ESO TEL AIRM START = 1.234 / airmass",
        "HIERARCH ESO OBS NAME = 'O''HARA ' / name",
        "KEY     = 12 /no space",
        "KEY     = 'x'/tight",
        "COMMENT   leading spaces kept",
        "HISTORY = not a value",
        "        blank keyword text",
        "KEY     = 123456789012345678901234567890",
        "DATE-OBS= '2016-09-09T08:12:26'",
        "RA-MNT  =            301.56439 / Degrees",
    ],
)
def test_parse_card_matches_astropy(text):
    text = text.ljust(80)
    reference = fits.Card.fromstring(text)
    ours = parse_card(text)
    expected = astropy_value(reference.value)
    assert ours.keyword == reference.keyword
    assert type(ours.value) is type(expected)
    assert ours.value == expected
    assert ours.comment == reference.comment


def test_doubled_quote_before_a_blank_slash():
    # FITS 4.0 sec. 4.2.1.1: '' inside a string is one quote, so the string below is
    # a/b 'c' / d and the comment follows the closing quote. (astropy 8.0.2 misreads this
    # card, ending the string at the quote before ' / ', so it is not the reference here.)
    text = "SLASH   = 'a/b ''c'' / d'      / slash / in comment".ljust(80)
    ours = parse_card(text)
    assert ours.value == "a/b 'c' / d"
    assert ours.comment == "slash / in comment"
    # it is what astropy writes for that value, so the value round-trips
    written = fits.Card("SLASH", "a/b 'c' / d", "slash / in comment").image
    assert written == text
    assert parse_card(written).value == "a/b 'c' / d"


@pytest.mark.parametrize(
    "text", ["KEY     = garbage", "KEY     = 'unterminated", "KEY     = 1.2.3"]
)
def test_parse_card_rejects_unreadable_values(text):
    with pytest.raises(ValueError):
        parse_card(text.ljust(80))


def test_lower_case_hierarch_keyword_is_reachable():
    h = fits.Header()
    h["HIERARCH lower case key"] = 3
    raw = to_bytes([fits.PrimaryHDU(header=h)])
    ours = read_header_from_bytes(raw)
    with fits.open(io.BytesIO(raw)) as hdul:
        assert hdul[0].header["lower case key"] == 3  # astropy: case-insensitive
    assert ours.get("lower case key") == 3
    assert "lower case key" in ours


@pytest.mark.parametrize(
    ("ncards", "expected_offset"),
    [
        (35, BLOCK_SIZE),  # 35 cards + END fill the first block exactly
        (36, 2 * BLOCK_SIZE),  # END is the first card of the second block
        (37, 2 * BLOCK_SIZE),
        (71, 2 * BLOCK_SIZE),
        (72, 3 * BLOCK_SIZE),
    ],
)
def test_header_block_boundaries(ncards, expected_offset):
    extra = [card(f"KEY{i:05d}", str(i)) for i in range(ncards - 5)]
    raw = raw_image(extra, shape=(3, 4), fill=1)
    ours = read_header_from_bytes(raw)
    assert len(ours.cards) == ncards
    place = layout(raw)[0]
    assert ours.data_offset == place["datLoc"] == expected_offset
    assert ours.data_size == place["size"] == 3 * 4 * 2
    assert ours.padded_data_size == place["datSpan"]
    with fits.open(io.BytesIO(raw)) as hdul:
        assert len(hdul[0].header) == ncards
        assert_same_as_astropy(ours, hdul[0].header)
        np.testing.assert_array_equal(hdul[0].data, np.full((3, 4), 0x0101, dtype=np.int16))


@pytest.fixture(scope="module")
def multi_extension() -> bytes:
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="a", format="J", array=np.arange(10)),
            fits.Column(name="b", format="PJ()", array=[np.arange(i) for i in range(10)]),
        ],
        name="TAB",
    )
    image = fits.ImageHDU(np.ones((5, 7), dtype=np.float32), name="SCI")
    image.header["EXPTIME"] = 30.5
    primary = fits.PrimaryHDU(np.arange(12, dtype=np.int16).reshape(3, 4))
    return to_bytes([primary, image, table])


@pytest.mark.parametrize("index", [0, 1, 2])
def test_multi_extension_headers(multi_extension, index):
    ours = read_header_from_bytes(multi_extension, hdu=index)
    place = layout(multi_extension)[index]
    assert ours.hdu == index
    assert ours.compressed is False
    assert ours.header_offset == place["hdrLoc"]
    assert ours.data_offset == place["datLoc"]
    assert ours.data_size == place["size"]  # includes the table's heap (PCOUNT)
    assert ours.padded_data_size == place["datSpan"]
    with fits.open(io.BytesIO(multi_extension)) as hdul:
        assert_same_as_astropy(ours, hdul[index].header)


def test_multi_extension_hdu_2_is_the_table(multi_extension):
    ours = read_header_from_bytes(multi_extension, hdu=2)
    assert ours["XTENSION"] == "BINTABLE"
    assert ours["EXTNAME"] == "TAB"
    assert ours["PCOUNT"] > 0


def test_default_hdu_of_a_plain_multi_extension_file_is_the_primary(multi_extension):
    assert read_header_from_bytes(multi_extension).hdu == 0


def test_default_hdu_with_empty_primary_and_plain_image_extension():
    # documented: HDU 1 is chosen only when it is a compressed image
    raw = to_bytes([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 5), dtype=np.int16))])
    assert read_header_from_bytes(raw).hdu == 0
    assert read_header_from_bytes(raw, hdu=1)["NAXIS1"] == 5


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.int32, np.float32])
@pytest.mark.parametrize("compression", ["RICE_1", "GZIP_1"])
def test_synthetic_compressed_image_matches_astropy(dtype, compression):
    rng = np.random.default_rng(1)
    pixels = (rng.random((40, 30)) * 1000).astype(dtype)
    hdu = fits.CompImageHDU(pixels, compression_type=compression, name="SCI")
    hdu.header["EXPTIME"] = 30.0
    hdu.header["OBJECT"] = "O'HARA"
    raw = to_bytes([fits.PrimaryHDU(), hdu])
    ours = read_header_from_bytes(raw)
    assert ours.hdu == 1 and ours.compressed
    with fits.open(io.BytesIO(raw)) as hdul:
        assert_same_as_astropy(ours, hdul[1].header)
    place = layout(raw)[1]
    assert (ours.data_offset, ours.data_size) == (place["datLoc"], place["size"])
    # explicitly asking for HDU 0 gives the empty primary, untranslated
    primary = read_header_from_bytes(raw, hdu=0)
    assert primary.compressed is False and primary["NAXIS"] == 0


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def _tiny_like() -> bytes:
    extra = [card(f"KEY{i:05d}", str(i)) for i in range(60)]  # a two-block header
    return raw_image(extra, shape=(20, 30))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: b"", "empty"),
        (lambda: _tiny_like()[:100], "incomplete"),
        (lambda: _tiny_like()[:2000], "incomplete"),
        (lambda: _tiny_like()[:BLOCK_SIZE], "END"),
        (lambda: _tiny_like()[: BLOCK_SIZE + 1000], "END"),
        (lambda: _tiny_like()[: 2 * BLOCK_SIZE - 1], "END"),
        (lambda: b"hello world\n" * 1000, "SIMPLE"),
        (lambda: b"%PDF-1.4\n" + b"\0" * 5000, "SIMPLE"),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 5000, "non-ASCII"),
        (
            lambda: ("SIMPLE  =                    T / café".ljust(80)).encode() + b" " * 2880,
            "non-ASCII",
        ),
        (lambda: raw_image([card("OBJECT", "'Gaxa'")]).replace(b"Gaxa", b"Ga\xefa"), "non-ASCII"),
        (lambda: raw_image([card("BROKEN", "what?")]), "BROKEN"),
        (lambda: raw_image([card("BROKEN", "'no end")]), "BROKEN"),
        (
            lambda: raw_header([card("SIMPLE", "T"), card("BITPIX", "16"), card("NAXIS", "1")]),
            "NAXIS1",
        ),
        (
            lambda: raw_header([card("SIMPLE", "T"), card("BITPIX", "'16'"), card("NAXIS", "0")]),
            "BITPIX",
        ),
        (lambda: raw_header([card("SIMPLE", "T"), card("NAXIS", "-1")]), "NAXIS"),
        (lambda: raw_header([card("XTENSION", "'IMAGE'"), card("NAXIS", "0")]), "SIMPLE"),
    ],
    ids=[
        "empty",
        "100-bytes",
        "2000-bytes",
        "cut-at-block",
        "cut-mid-block",
        "one-byte-short",
        "text",
        "pdf",
        "png",
        "utf8-card",
        "latin1-byte",
        "bad-value",
        "unterminated-string",
        "missing-naxis1",
        "string-bitpix",
        "negative-naxis",
        "extension-first",
    ],
)
def test_not_fits(make, fragment, tmp_path):
    raw = make()
    with pytest.raises(NotFitsError) as info:
        read_header_from_bytes(raw, source="upload.fits")
    assert not isinstance(info.value, HeaderTooLargeError)
    assert fragment in str(info.value)
    assert info.value.source == "upload.fits"
    assert "upload.fits" in str(info.value)
    # the same through a file
    path = tmp_path / "bad.fits"
    path.write_bytes(raw)
    with pytest.raises(NotFitsError):
        read_header_from_file(path)


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_astropy_also_rejects_the_truncated_header():
    # independent check that a header cut before END is not FITS
    with pytest.raises(OSError):
        fits.open(io.BytesIO(_tiny_like()[: BLOCK_SIZE + 1000])).verify("exception")


def test_header_too_large():
    extra = [card(f"KEY{i:05d}", str(i)) for i in range(150)]  # 156 cards: 5 blocks
    raw = raw_image(extra)
    assert read_header_from_bytes(raw).data_offset == 5 * BLOCK_SIZE
    # exactly enough room: fine
    assert (
        read_header_from_bytes(raw, max_header_bytes=5 * BLOCK_SIZE).data_offset == 5 * BLOCK_SIZE
    )
    for limit in (BLOCK_SIZE, 2 * BLOCK_SIZE, 4 * BLOCK_SIZE):
        reader = RecordingReader(raw)
        with pytest.raises(HeaderTooLargeError) as info:
            read_header(reader, size=len(raw), max_header_bytes=limit, first_chunk=BLOCK_SIZE)
        assert str(limit) in str(info.value)
        assert isinstance(info.value, NotFitsError)
        assert reader.total <= limit


def test_header_without_end_is_bounded_by_the_default_limit():
    # 200 blocks of cards and never an END: the reader must stop at the bound
    cards = [card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0")]
    cards += [f"COMMENT {i}".ljust(80) for i in range(200 * 36 - 3)]
    raw = raw_header(cards, end=False)
    reader = RecordingReader(raw)
    with pytest.raises(HeaderTooLargeError):
        read_header(reader, size=len(raw))
    assert reader.total <= DEFAULT_MAX_HEADER_BYTES
    # a larger bound reads it up to the end of the file, which has no END: not FITS
    with pytest.raises(NotFitsError):
        read_header_from_bytes(raw, max_header_bytes=len(raw) + BLOCK_SIZE)


def test_header_too_large_with_a_limit_that_is_not_whole_blocks(panoptes_data):
    with pytest.raises(HeaderTooLargeError):
        read_header_from_file(panoptes_data / "tiny.fits", max_header_bytes=4000)


def test_first_chunk_smaller_than_a_block(panoptes_data):
    header = read_header_from_file(panoptes_data / "tiny.fits", first_chunk=1000)
    assert header.data_offset == 2 * BLOCK_SIZE


def test_missing_hdu(multi_extension):
    with pytest.raises(NotFitsError, match="HDU 3 does not exist"):
        read_header_from_bytes(multi_extension, hdu=3)
    two = to_bytes([fits.PrimaryHDU(np.zeros((2, 2), np.int16)), fits.ImageHDU(np.zeros((2, 2)))])
    assert read_header_from_bytes(two, hdu=1)["XTENSION"] == "IMAGE"
    with pytest.raises(NotFitsError, match="HDU 2 does not exist"):
        read_header_from_bytes(two, hdu=2)
    with pytest.raises(NotFitsError):
        read_header_from_bytes(two, hdu=3)
    # without a known size the missing HDU is still an error, not a crash
    with pytest.raises(NotFitsError):
        read_header(RecordingReader(two), hdu=3)
    with pytest.raises(ValueError):
        read_header_from_bytes(two, hdu=-1)


def test_missing_hdu_of_a_fixture(panoptes_data):
    with pytest.raises(NotFitsError, match="does not exist"):
        read_header_from_file(panoptes_data / "solved.fits.fz", hdu=2)
    with pytest.raises(NotFitsError, match="does not exist"):
        read_header_from_file(panoptes_data / "tiny.fits", hdu=1)


def test_extension_that_does_not_start_with_xtension():
    primary = raw_header([card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0")])
    garbage = raw_header([card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0")])
    with pytest.raises(NotFitsError, match="XTENSION"):
        read_header_from_bytes(primary + garbage, hdu=1)


def test_default_hdu_without_size_on_a_primary_only_file():
    raw = raw_header(
        [
            card("SIMPLE", "T"),
            card("BITPIX", "8"),
            card("NAXIS", "0"),
            card("EXTEND", "T"),
            card("FOO", "1"),
        ]
    )
    assert len(layout(raw)) == 1  # astropy: one HDU, no extension
    assert read_header_from_bytes(raw)["FOO"] == 1  # with size: fine
    assert read_header(RecordingReader(raw))["FOO"] == 1


# --------------------------------------------------------------------------------------
# Bounded reads
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_file(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    pixels = rng.integers(-2000, 2000, size=(2000, 2000), dtype=np.int16)
    header = fits.Header()
    header["EXPTIME"] = 120.0
    path = tmp_path_factory.mktemp("large") / "large.fits"
    fits.PrimaryHDU(pixels, header=header).writeto(path)
    return path


def test_large_file_reads_only_header_blocks(large_file):
    size = large_file.stat().st_size
    assert size > 8_000_000
    header = read_header_from_file(large_file)
    assert header["NAXIS1"] == header["NAXIS2"] == 2000
    assert header.bytes_read <= 4 * BLOCK_SIZE
    assert header.bytes_read < size / 500
    with fits.open(large_file) as hdul:
        info = hdul[0].fileinfo()
        assert header.data_offset == info["datLoc"]
        assert header.padded_data_size == info["datSpan"]
        assert header.data_size == hdul[0].size == 2000 * 2000 * 2
        assert_same_as_astropy(header, hdul[0].header)


@pytest.mark.parametrize("first_chunk", [BLOCK_SIZE, 2 * BLOCK_SIZE, 4 * BLOCK_SIZE])
@pytest.mark.parametrize("known_size", [True, False])
def test_reader_calls_stay_in_the_header(large_file, first_chunk, known_size):
    raw = large_file.read_bytes()
    reader = RecordingReader(raw)
    header = read_header(reader, size=len(raw) if known_size else None, first_chunk=first_chunk)
    assert reader.calls, "the reader was never called"
    for start, length in reader.calls:
        assert start < header.data_offset  # every read starts inside the header
        assert start + length <= max(header.data_offset, first_chunk)
    assert header.bytes_read == reader.total
    assert header.bytes_read <= max(header.data_offset, first_chunk)


def test_reader_calls_for_a_later_hdu_touch_only_headers(multi_extension):
    places = layout(multi_extension)
    reader = RecordingReader(multi_extension)
    header = read_header(reader, hdu=2, size=len(multi_extension), first_chunk=BLOCK_SIZE)
    assert header.hdu == 2
    # with one-block first reads and one-block headers, every read is exactly a header block
    headers = {(p["hdrLoc"], p["datLoc"] - p["hdrLoc"]) for p in places}
    assert set(reader.calls) <= headers
    assert len(reader.calls) == 3
    assert header.bytes_read == sum(p["datLoc"] - p["hdrLoc"] for p in places)


def test_multi_block_header_reads_grow_but_stay_in_the_header():
    extra = [card(f"KEY{i:05d}", str(i)) for i in range(200)]  # 206 cards: 6 blocks
    raw = raw_image(extra, shape=(500, 500))
    reader = RecordingReader(raw)
    header = read_header(reader, size=len(raw), first_chunk=BLOCK_SIZE)
    assert header.data_offset == layout(raw)[0]["datLoc"] == 6 * BLOCK_SIZE
    # 1 + 2 + 4 blocks: the last read may run into the data by at most its own length
    assert [n for _, n in reader.calls] == [BLOCK_SIZE, 2 * BLOCK_SIZE, 4 * BLOCK_SIZE]
    for start, _ in reader.calls:
        assert start < header.data_offset
    assert header.bytes_read == 7 * BLOCK_SIZE


def test_compressed_fixture_reads_only_headers(panoptes_data):
    raw = (panoptes_data / "solved.fits.fz").read_bytes()
    places = layout(raw)
    reader = RecordingReader(raw)
    header = read_header(reader, size=len(raw))
    assert header.compressed
    for start, _ in reader.calls:
        assert any(p["hdrLoc"] <= start < p["datLoc"] for p in places), start
    header_bytes = sum(p["datLoc"] - p["hdrLoc"] for p in places)
    assert header.bytes_read <= 2 * header_bytes
    assert header.bytes_read < len(raw) / 10


def test_size_bounds_reads_of_a_short_object():
    raw = raw_image([], shape=(2, 2))  # one header block, one data block
    reader = RecordingReader(raw)
    read_header(reader, size=len(raw), first_chunk=10 * BLOCK_SIZE)
    assert all(start + length <= len(raw) for start, length in reader.calls)
