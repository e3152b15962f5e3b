"""The PANOPTES network's data as DataFrames and files, over the Data Explorer's JSON API.

For scientists: search observations, read a star's light curves, fetch an observation's
files, and read the analysis: its detections, the analysed stars, what it searched
(coverage) and what it can find (completeness). Needs the ``client`` extra (pandas,
requests, tqdm; pyarrow comes with the package) and nothing else of the network's code::

    from panoptes_network.client import (
        download, get_completeness, get_detections, get_lightcurves, search_observations
    )

    found = search_observations(name="M42", since="2020-01-01", min_images=10)
    points = get_lightcurves(261136679)
    paths = download(found.sequence_id[0], kind="fits", to="frames")
    flares = get_detections(kind="flare")  # most significant first
    counts = get_completeness().groupby(["kind", "snr_bin"])[["injected", "recovered"]].sum()

The functions use one :class:`Client` of ``$PANOPTES_EXPLORER_URL`` (else the local
explorer, ``http://127.0.0.1:8103``); make a :class:`Client` to choose the explorer, the
timeout or the retries. Failures raise :class:`ExplorerError`. ``bin/panoptes-data`` does
the same from the shell.

- :mod:`.explorer`: :class:`Client` and the functions.
- :mod:`.observations`: the search's query and the observations' columns.
- :mod:`.stars`: a star's points as a table.
- :mod:`.analysis`: detections, analysed stars, coverage and completeness as tables.
- :mod:`.downloads`: the files of each kind, and transfers that never leave a partial file.
- :mod:`.errors`: :class:`ExplorerError`.
"""

from panoptes_network.client.analysis import (
    ANALYSED_STAR_COLUMNS,
    COMPLETENESS_COLUMNS,
    COVERAGE_COLUMNS,
    DETECTION_COLUMNS,
)
from panoptes_network.client.downloads import DOWNLOAD_KINDS
from panoptes_network.client.errors import ExplorerError
from panoptes_network.client.explorer import (
    Client,
    default_client,
    download,
    get_analysed_stars,
    get_completeness,
    get_coverage,
    get_detections,
    get_lightcurves,
    get_star_detections,
    search_observations,
)
from panoptes_network.client.observations import FRAME_COLUMNS, OBSERVATION_COLUMNS

__all__ = [
    "ANALYSED_STAR_COLUMNS",
    "COMPLETENESS_COLUMNS",
    "COVERAGE_COLUMNS",
    "DETECTION_COLUMNS",
    "DOWNLOAD_KINDS",
    "FRAME_COLUMNS",
    "OBSERVATION_COLUMNS",
    "Client",
    "ExplorerError",
    "default_client",
    "download",
    "get_analysed_stars",
    "get_completeness",
    "get_coverage",
    "get_detections",
    "get_lightcurves",
    "get_star_detections",
    "search_observations",
]
