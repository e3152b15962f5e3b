"""A star's light curves as a table: every point of the star, across processing runs.

The columns of :func:`points_frame` are those of ``/api/v1/stars/<picid>/points.parquet``,
one row per (run, frame), in the API's order:

- ``picid`` (the star's PANOPTES Input Catalog id, its TIC id), ``unit_id``, ``camera_id``,
  ``sequence_id`` (the observation) and ``run_id`` (the build-lightcurve run);
- ``time``: mid-exposure, POSIX seconds; ``time_utc``: the same as a UTC datetime;
- ``airmass``;
- for each colour ``c`` the run measured (``r``, ``g``, ``b``): ``flux_c`` and
  ``flux_err_c`` (the run's units) and ``outlier_c`` (the run rejected the point);
- ``flagged``: the point is flagged.
"""

from __future__ import annotations

import operator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from panoptes_network.client._tables import DTYPES, utc_times
from panoptes_network.client.errors import ExplorerError

__all__ = ["picid_text", "points_frame"]


def picid_text(picid: Any) -> str:
    """Return a star id as the API's path takes it.

    Parameters
    ----------
    picid : int or str
        The star's PICID (TIC id): a whole number, or its digits.

    Returns
    -------
    str
        The decimal digits.

    Raises
    ------
    ValueError
        When it is not a whole number of at least 1.
    """
    try:
        if isinstance(picid, bool):
            raise TypeError(picid)
        number = int(picid.strip()) if isinstance(picid, str) else operator.index(picid)
    except (TypeError, ValueError):
        raise ValueError(f"picid must be a whole number (a TIC id), not {picid!r}") from None
    if number < 1:
        raise ValueError(f"picid must be a whole number of at least 1, not {picid!r}")
    return str(number)


def points_frame(data: bytes, url: str, status: int | None = None) -> pd.DataFrame:
    """Return the Parquet points of a star as a DataFrame, with ``time_utc`` in UTC.

    Parameters
    ----------
    data : bytes
        The body of ``/api/v1/stars/<picid>/points.parquet``.
    url : str
        Where it came from, for the error.
    status : int, optional
        The answer's HTTP status, for the error.

    Returns
    -------
    pandas.DataFrame
        See the module docstring. ``time_utc`` is ``datetime64[us, UTC]``; a file without
        it but with ``time`` gets it from ``time``, right after it.

    Raises
    ------
    ExplorerError
        When the body is not a Parquet file.
    """
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise ExplorerError(
            f"the answer is not a Parquet file ({type(exc).__name__}): {str(exc)[:200]}",
            url=url,
            status=status,
        ) from None
    frame = table.to_pandas()
    if "time_utc" in frame.columns:
        frame["time_utc"] = _utc(frame["time_utc"])
    elif "time" in frame.columns:
        seconds = pd.to_numeric(frame["time"], errors="coerce")
        times = pd.to_datetime(seconds, unit="s", utc=True).astype(DTYPES["time"])
        frame.insert(frame.columns.get_loc("time") + 1, "time_utc", times)
    return frame


def _utc(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC").astype(DTYPES["time"])
    if pd.api.types.is_datetime64_dtype(column.dtype):
        return column.dt.tz_localize("UTC").astype(DTYPES["time"])
    return utc_times(column)
