"""The per-image sources table and its Parquet encoding: the contract with build-lightcurve.

One row per catalog star measured on one frame (:func:`.frame_photometry.measure_frame`).
Columns, in this order (:data:`SOURCES_COLUMNS`; Parquet type, unit):

==============  =======  ==========================================================
column          type     meaning
==============  =======  ==========================================================
picid           int64    PANOPTES input catalog id
ra, dec         float64  catalog position (deg, ICRS)
vmag            float64  catalog V magnitude (mag)
x, y            float64  position measured at (pixels, 0-based frame coordinates): the
                         refined centroid, or the WCS position when not refined
x_wcs, y_wcs    float64  position predicted by the frame's WCS (pixels, 0-based)
flux_c          float64  background-subtracted aperture flux of colour c (e-)
flux_err_c      float64  1-sigma error of ``flux_c`` (e-), from
                         :func:`.noise.theoretical_flux_error`
bkg_c           float64  local sky of colour c, sigma-clipped annulus mean (e- / pixel)
npix_c          float64  aperture area on colour-c pixels (pixels, exact overlap weights)
fwhm            float32  star width: FWHM in the green light (full-resolution frame
                         pixels), :func:`.star_width.star_fwhm`; NaN when not measured
                         (off the frame or near its edge, saturated, too faint)
flags           int32    bit mask of :class:`.flags.SourceFlag` (0 = clean)
==============  =======  ==========================================================

for each colour ``c`` in ``r``, ``g``, ``b`` (``g`` sums both green sites). Unmeasured values
(``OFF_FRAME`` stars) are NaN.

Schema versions: ``"2"`` added ``fwhm``. Version ``"1"`` files (no ``fwhm``) are still read:
:func:`read_sources_table` fills ``fwhm`` with NaN, which the focus test of
:func:`panoptes_network.lightcurves.frame_quality.assess_frames` treats as unmeasured.

Key-value metadata of the Parquet file (:data:`REQUIRED_METADATA`), each value JSON-encoded
so numbers come back as numbers: ``image_id`` (str), ``sequence_id`` (str),
``mid_exposure_time`` (str, ISO 8601 UTC), ``exptime`` (s), ``airmass`` (float),
``aperture_radius`` (pixels), ``software_version`` (str). Other keys are kept as they are
given (for example ``annulus`` in pixels, ``gain`` in e- / ADU, or ``site``: the unit's
``latitude`` and ``longitude`` in degrees and ``elevation`` in metres from ``LAT-OBS``,
``LONG-OBS`` and ``ELEV-OBS``, each None when the header lacks it). The key
``sources_schema`` holds :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.table import Table

__all__ = [
    "COLUMN_UNITS",
    "REQUIRED_METADATA",
    "SCHEMA_VERSION",
    "SOURCES_COLUMNS",
    "SourcesTableError",
    "read_sources_table",
    "write_sources_table",
]

#: Version of this schema, stored under the ``sources_schema`` metadata key.
SCHEMA_VERSION: str = "2"

_PER_COLOUR = ("flux", "flux_err", "bkg", "npix")
#: The columns of a sources table, in order.
SOURCES_COLUMNS: tuple[str, ...] = (
    "picid",
    "ra",
    "dec",
    "vmag",
    "x",
    "y",
    "x_wcs",
    "y_wcs",
    *(f"{kind}_{c}" for c in "rgb" for kind in _PER_COLOUR),
    "fwhm",
    "flags",
)
#: Columns a reader fills with NaN when a file of an older schema lacks them.
_ADDED_COLUMNS: tuple[str, ...] = ("fwhm",)

#: Units of the columns (astropy unit strings); columns not listed are dimensionless.
COLUMN_UNITS: dict[str, str] = {
    "ra": "deg",
    "dec": "deg",
    "vmag": "mag",
    **{name: "pix" for name in ("x", "y", "x_wcs", "y_wcs")},
    **{f"flux_{c}": "electron" for c in "rgb"},
    **{f"flux_err_{c}": "electron" for c in "rgb"},
    **{f"bkg_{c}": "electron / pix" for c in "rgb"},
    **{f"npix_{c}": "pix" for c in "rgb"},
    "fwhm": "pix",
}

_INTEGER_TYPES: dict[str, pa.DataType] = {"picid": pa.int64(), "flags": pa.int32()}

_ARROW_TYPES: dict[str, pa.DataType] = {
    name: _INTEGER_TYPES.get(name, pa.float32() if name == "fwhm" else pa.float64())
    for name in SOURCES_COLUMNS
}

#: Metadata keys every sources file carries.
REQUIRED_METADATA: tuple[str, ...] = (
    "image_id",
    "sequence_id",
    "mid_exposure_time",
    "exptime",
    "airmass",
    "aperture_radius",
    "software_version",
)
_SCHEMA_KEY = "sources_schema"


class SourcesTableError(ValueError):
    """A sources table or file does not follow the schema."""


def write_sources_table(table: Table, metadata: Mapping[str, Any]) -> bytes:
    """Encode a sources table as Parquet bytes with its key-value metadata.

    Parameters
    ----------
    table : astropy.table.Table
        Has at least the :data:`SOURCES_COLUMNS` (units as in :data:`COLUMN_UNITS`);
        other columns are dropped.
    metadata : mapping
        At least the :data:`REQUIRED_METADATA` keys; values must be JSON-serialisable.

    Returns
    -------
    bytes
        The Parquet file.

    Raises
    ------
    SourcesTableError
        When a column or a metadata key is missing.
    """
    missing = [name for name in SOURCES_COLUMNS if name not in table.colnames]
    if missing:
        raise SourcesTableError(f"sources table lacks columns {missing}")
    absent = [key for key in REQUIRED_METADATA if key not in metadata]
    if absent:
        raise SourcesTableError(f"sources metadata lacks keys {absent}")
    arrays = [
        pa.array(np.asarray(table[name]), type=_ARROW_TYPES[name]) for name in SOURCES_COLUMNS
    ]
    encoded = {str(key): json.dumps(value) for key, value in metadata.items()}
    encoded[_SCHEMA_KEY] = json.dumps(SCHEMA_VERSION)
    schema = pa.schema(
        [pa.field(name, _ARROW_TYPES[name]) for name in SOURCES_COLUMNS], metadata=encoded
    )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), buffer, compression="zstd")
    return buffer.getvalue()


def read_sources_table(data: bytes) -> tuple[Table, dict[str, Any]]:
    """Decode Parquet bytes written by :func:`write_sources_table`.

    Parameters
    ----------
    data : bytes
        The Parquet file.

    Returns
    -------
    (astropy.table.Table, dict)
        The table (columns in :data:`SOURCES_COLUMNS` order, with units) and the metadata
        (values decoded from JSON; ``sources_schema`` included). A column added after the
        file's schema version (``fwhm`` in a version ``"1"`` file) is filled with NaN.

    Raises
    ------
    SourcesTableError
        When a column is missing.
    """
    arrow = pq.read_table(io.BytesIO(data))
    missing = [
        name
        for name in SOURCES_COLUMNS
        if name not in arrow.column_names and name not in _ADDED_COLUMNS
    ]
    if missing:
        raise SourcesTableError(f"sources file lacks columns {missing}")
    table = Table()
    for name in SOURCES_COLUMNS:
        if name in arrow.column_names:
            values = arrow.column(name).to_numpy(zero_copy_only=False)
        else:
            values = np.full(arrow.num_rows, np.nan, dtype=_ARROW_TYPES[name].to_pandas_dtype())
        table[name] = values
        if name in COLUMN_UNITS:
            table[name].unit = COLUMN_UNITS[name]
    raw = arrow.schema.metadata or {}
    metadata = {
        key.decode(): json.loads(value.decode())
        for key, value in raw.items()
        if not key.startswith(b"ARROW:")
    }
    return table, metadata
