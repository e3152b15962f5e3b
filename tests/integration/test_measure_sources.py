"""measure-sources end to end: upload, solve, measure, and the per-image table."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from panoptes_network.catalog.local_file import default_catalog_path
from panoptes_network.photometry.sources_table import SOURCES_COLUMNS, read_sources_table
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("solve-field") is None or not default_catalog_path().exists(),
        reason="needs astrometry.net (solve-field) and the local star catalog (bin/setup)",
    ),
]


def test_a_solved_frame_gets_its_sources_table(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    seq, img = "20160909T081152", "20160909T081300"
    stack.upload(
        f"{unit}/{camera}/{seq}/{img}.fits", (panoptes_data / "unsolved.fits").read_bytes()
    )
    image_id = f"{unit}_{camera}_{img}"

    def measured():
        image = stack.doc("images", image_id)
        return (
            image
            if image and image.get("status") in ("measured", "measure_error", "solve_error")
            else None
        )

    image = wait_for("the frame to be measured", measured, 240)
    assert image["status"] == "measured", image
    assert image["solved"] is True and image["num_sources"] > 20
    blob = stack.blob(stack.settings.sources_bucket, image["sources_path"])
    table, metadata = read_sources_table(blob.download_as_bytes())
    assert list(table.colnames[: len(SOURCES_COLUMNS)]) == list(SOURCES_COLUMNS)
    assert len(table) == image["num_sources"] and metadata["image_id"] == image_id
    assert np.all((table["vmag"] >= 6) & (table["vmag"] <= 13))
    clean = np.asarray(table["flags"]) == 0
    assert np.median(np.asarray(table["flux_g"])[clean]) > 0
