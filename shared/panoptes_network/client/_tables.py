"""Rows of the JSON API as a typed DataFrame: the same columns and dtypes, with rows or none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["DTYPES", "typed_frame", "utc_times"]

#: The dtype of each kind of column: times are UTC, whole numbers may be missing (``<NA>``),
#: numbers are float (NaN when missing), text is pandas' string dtype (``str``, NaN when
#: missing; before pandas 3, Python strings or None in an ``object`` column).
DTYPES: dict[str, Any] = {
    "time": "datetime64[us, UTC]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
    "text": "str" if int(pd.__version__.split(".", 1)[0]) >= 3 else object,
}


def utc_times(values: Any) -> pd.Series:
    """Return times (ISO 8601 text, datetimes, or None) as a UTC datetime Series.

    Parameters
    ----------
    values : array-like
        ISO 8601 text with or without an offset (none means UTC), datetimes, or None.

    Returns
    -------
    pandas.Series
        dtype ``datetime64[us, UTC]``; NaT where a value is missing or not a time.
    """
    series = pd.Series(values, dtype=object)
    times = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    return times.astype(DTYPES["time"])


def _column(values: list[Any], kind: str) -> pd.Series:
    if kind == "time":
        return utc_times(values)
    if kind == "float":
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64")
    if kind == "int":
        return pd.Series(pd.array(values, dtype="Int64"))
    if kind == "bool":
        return pd.Series(pd.array(values, dtype="boolean"))
    return pd.Series(values, dtype=object).astype(DTYPES["text"])


def typed_frame(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """Return API rows as a DataFrame with typed columns, in a fixed order.

    Parameters
    ----------
    rows : sequence of Mapping
        The rows, as the API answers them (a field missing from a row is missing data).
    columns : Mapping
        Column name to kind (a key of :data:`DTYPES`), in the order wanted. Fields of the
        rows not named here follow, as pandas reads them, except those holding an object or a
        list.

    Returns
    -------
    pandas.DataFrame
        One row per row given, with every column of ``columns`` even when there are none.
    """
    data = {name: _column([row.get(name) for row in rows], kind) for name, kind in columns.items()}
    extra: list[str] = []
    for row in rows:
        extra.extend(name for name in row if name not in columns and name not in extra)
    for name in extra:
        values = [row.get(name) for row in rows]
        if any(isinstance(v, (dict, list)) for v in values):
            continue
        data[name] = pd.Series(values)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
