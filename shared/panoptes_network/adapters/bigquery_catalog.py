"""The PANOPTES Input Catalog (PIC) in BigQuery, as a star catalog.

:class:`BigQueryCatalog` is a :class:`~panoptes_network.catalog.star_catalog.Catalog`.

UNTESTED against BigQuery: this machine has no network access to Google Cloud and no
credentials, so no query has been run. The unit tests check only the SQL text and the
parameters it would send, through a fake client.

The table must have the columns ``picid`` (INT64, the TIC id), ``ra`` and ``dec`` (FLOAT64,
degrees, ICRS, RA in [0, 360)) and ``vmag`` (FLOAT64, V magnitude); ``extra_columns`` are
returned too. ``google-cloud-bigquery`` is optional: it is imported when the first query
runs (``pip install 'panoptes-network[bigquery]'``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network.catalog.star_catalog import (
    DEFAULT_VMAG_RANGE,
    REQUIRED_COLUMNS,
    Catalog,
    check_cone,
)

__all__ = ["BigQueryCatalog", "ConeQuery"]

_TABLE_ID = re.compile(r"^(?:[A-Za-z0-9_.:-]+\.)?[A-Za-z0-9_-]+\.[A-Za-z0-9_$-]+$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INSTALL_HINT = (
    "BigQueryCatalog needs the google-cloud-bigquery package: "
    "pip install 'panoptes-network[bigquery]'"
)


@dataclass(frozen=True)
class ConeQuery:
    """A parameterised BigQuery cone search.

    Attributes
    ----------
    sql : str
        Standard SQL with named parameters (``@ra_rad`` ...).
    parameters : tuple of (str, str, float)
        Name, BigQuery type and value of each parameter. Angles are in radians except
        ``dec_min`` and ``dec_max`` (degrees, compared with the ``dec`` column).
    """

    sql: str
    parameters: tuple[tuple[str, str, float], ...]


class BigQueryCatalog(Catalog):
    """Cone searches on the PANOPTES Input Catalog table in BigQuery (untested here).

    This backend cannot be tested on this machine (no network, no credentials) and is
    untested against BigQuery: only the SQL it builds is checked, with a fake client.

    Each search sends one parameterised query: a declination prefilter
    (``dec BETWEEN @dec_min AND @dec_max``, which prunes a table clustered on ``dec``), the
    magnitude range, and the exact great-circle distance by the haversine formula
    (``2 asin(sqrt(hav))  <= radius``, in radians). The rows come back sorted by ``picid``.

    Parameters
    ----------
    project : str
        Google Cloud project billed for the queries.
    table : str
        Table id, ``project.dataset.table`` or ``dataset.table``, with columns ``picid``
        (INT64), ``ra``, ``dec`` (FLOAT64 degrees) and ``vmag`` (FLOAT64).
    extra_columns : sequence of str
        Other columns to return.
    client : object, optional
        A ``google.cloud.bigquery.Client`` (or a stand-in with the same ``query`` method);
        created for ``project`` on first use when not given.
    """

    def __init__(
        self,
        project: str,
        table: str,
        *,
        extra_columns: Sequence[str] = (),
        client: Any = None,
    ):
        if not _TABLE_ID.match(table):
            raise ValueError(
                f"BigQuery table id {table!r} must look like project.dataset.table or dataset.table"
            )
        bad = [c for c in extra_columns if not _COLUMN.match(c)]
        if bad:
            raise ValueError(f"column name(s) {', '.join(map(repr, bad))} are not identifiers")
        self.project = project
        self.table = table
        self.extra_columns = tuple(c for c in extra_columns if c not in REQUIRED_COLUMNS)
        self._client = client

    def __repr__(self) -> str:
        return f"BigQueryCatalog(project={self.project!r}, table={self.table!r})"

    def build_query(
        self,
        ra: float,
        dec: float,
        radius: float,
        vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE,
    ) -> ConeQuery:
        """Return the SQL and parameters of a cone search (nothing is sent).

        Parameters
        ----------
        ra, dec : float
            Centre, in degrees (ICRS).
        radius : float
            Radius, in degrees.
        vmag_range : (float, float)
            V magnitudes kept, inclusive: (brightest, faintest).

        Returns
        -------
        ConeQuery
            The query.
        """
        check_cone(ra, dec, radius, vmag_range)
        columns = ", ".join((*REQUIRED_COLUMNS, *self.extra_columns))
        sql = (
            f"SELECT {columns}\n"
            f"FROM `{self.table}`\n"
            "WHERE dec BETWEEN @dec_min AND @dec_max\n"
            "  AND vmag BETWEEN @vmag_min AND @vmag_max\n"
            "  AND 2 * ASIN(LEAST(1.0, SQRT(\n"
            "        POW(SIN((dec * ACOS(-1) / 180 - @dec_rad) / 2), 2)\n"
            "        + COS(dec * ACOS(-1) / 180) * COS(@dec_rad)\n"
            "          * POW(SIN((ra * ACOS(-1) / 180 - @ra_rad) / 2), 2)\n"
            "      ))) <= @radius_rad\n"
            "ORDER BY picid"
        )
        # The prefilter is widened by a hair so rounding never drops a star on the edge.
        pad = 1e-9
        parameters = (
            ("ra_rad", "FLOAT64", math.radians(float(ra) % 360.0)),
            ("dec_rad", "FLOAT64", math.radians(float(dec))),
            ("radius_rad", "FLOAT64", math.radians(float(radius))),
            ("dec_min", "FLOAT64", max(-90.0, float(dec) - float(radius) - pad)),
            ("dec_max", "FLOAT64", min(90.0, float(dec) + float(radius) + pad)),
            ("vmag_min", "FLOAT64", float(vmag_range[0])),
            ("vmag_max", "FLOAT64", float(vmag_range[1])),
        )
        return ConeQuery(sql=sql, parameters=parameters)

    def _bigquery(self) -> Any:
        try:
            from google.cloud import bigquery
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        return bigquery

    def cone_search(
        self,
        ra: float,
        dec: float,
        radius: float,
        vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE,
    ) -> Table:
        """Return the stars within ``radius`` of (``ra``, ``dec``) by a BigQuery query.

        Untested against BigQuery (see the class docstring).

        Parameters
        ----------
        ra, dec : float
            Centre, in degrees (ICRS).
        radius : float
            Radius, in degrees.
        vmag_range : (float, float)
            V magnitudes kept, inclusive: (brightest, faintest).

        Returns
        -------
        astropy.table.Table
            ``picid``, ``ra``, ``dec``, ``vmag`` and the extra columns, sorted by ``picid``.

        Raises
        ------
        ImportError
            When google-cloud-bigquery is not installed, saying how to install it.
        """
        query = self.build_query(ra, dec, radius, vmag_range)
        bigquery = self._bigquery()
        if self._client is None:
            self._client = bigquery.Client(project=self.project)
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(name, kind, value)
                for name, kind, value in query.parameters
            ]
        )
        rows = list(self._client.query(query.sql, job_config=config).result())
        names = (*REQUIRED_COLUMNS, *self.extra_columns)
        columns: dict[str, Any] = {name: [row[name] for row in rows] for name in names}
        table = Table(
            {
                "picid": np.asarray(columns["picid"], dtype=np.int64),
                "ra": np.asarray(columns["ra"], dtype=float),
                "dec": np.asarray(columns["dec"], dtype=float),
                "vmag": np.asarray(columns["vmag"], dtype=float),
                **{name: columns[name] for name in self.extra_columns},
            },
            names=list(names),
        )
        table.sort("picid")
        return table
