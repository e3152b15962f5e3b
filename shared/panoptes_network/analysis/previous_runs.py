"""The sums of a run merged before, computed again from its data file, to take it out.

When an observation is processed again, its new run replaces the earlier one in every
star's sums (:func:`~.star_store.merge_into_stars`). The earlier run's sums are not stored
per star; :class:`PreviousRuns` computes them again from that run's data file with the same
functions (so they are the same floats, and subtracting them is exact), once per run.
"""

from __future__ import annotations

from collections.abc import Callable

from panoptes_network.analysis.run_sums import RunInput, run_contribution
from panoptes_network.analysis.star_sums import StarSums
from panoptes_network.pipeline.errors import ObjectNotFoundError
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import PROCESSED_OBSERVATIONS

__all__ = ["PreviousRuns"]


class PreviousRuns:
    """Each star's sums of a run, by run name, read from the run's data file once.

    Parameters
    ----------
    documents : DocumentStore
        Where ``processed_observations/{run_id}`` names the run's data file.
    read : callable
        Reads a ``gs://`` URI's bytes.
    lightcurves_bucket : str
        The bucket of the data files.
    """

    def __init__(
        self, documents: DocumentStore, read: Callable[[str], bytes], lightcurves_bucket: str
    ) -> None:
        self._documents, self._read, self._bucket = documents, read, lightcurves_bucket
        self._cache: dict[str, dict[int, StarSums]] = {}

    def __call__(self, run: str) -> dict[int, StarSums]:
        """Return the run's sums by PICID; empty when its record or data file is gone.

        Parameters
        ----------
        run : str
            ``sequence_id/run_id``.
        """
        if run not in self._cache:
            self._cache[run] = self._compute(run)
        return self._cache[run]

    def _compute(self, run: str) -> dict[int, StarSums]:
        sequence_id, _, run_id = run.partition("/")
        doc = self._documents.get(PROCESSED_OBSERVATIONS, run_id) or {}
        if doc.get("sequence_id") != sequence_id or not doc.get("data_path"):
            return {}
        uri = f"gs://{self._bucket}/{doc['data_path']}"
        try:
            contribution = run_contribution(RunInput(sequence_id, run_id, uri), self._read(uri))
        except (ObjectNotFoundError, ValueError):
            return {}
        return {s.picid: s for s in contribution.stars}
