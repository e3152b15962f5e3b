"""Settings: every PANOPTES_* variable goes through Settings, and a bad value names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from panoptes_network.catalog.local_file import default_catalog_path
from panoptes_network.catalog.sesame_resolver import online_enabled
from panoptes_network.pipeline.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PANOPTES_MAX_HEADER_BYTES", "10k", "whole number"),
        ("PANOPTES_RAW_FITS_WAIT_MINUTES", "half an hour", "whole number"),
        ("PANOPTES_LIGHTCURVE_QUIET_MINUTES", "soon", "a number"),
        ("PANOPTES_LOOKUP_ONLINE", "maybe", "one of"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(variable, value, expected):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert variable in message and repr(value) in message and expected in message
    assert caught.value.variable == variable


def test_typed_values_parse():
    settings = Settings.from_env(
        {
            "PANOPTES_MAX_HEADER_BYTES": " 5760 ",
            "PANOPTES_LIGHTCURVE_QUIET_MINUTES": "12.5",
            "PANOPTES_LOOKUP_ONLINE": "Yes",
            "PANOPTES_CATALOG": "gs://bucket/tic.parquet",
        }
    )
    assert settings.max_header_bytes == 5760
    assert settings.lightcurve_quiet_minutes == 12.5
    assert settings.lookup_online is True
    assert settings.catalog == "gs://bucket/tic.parquet"
    assert Settings.from_env({"PANOPTES_LOOKUP_ONLINE": "off"}).lookup_online is False


def test_defaults_without_variables():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.lightcurve_quiet_minutes == 30.0
    assert settings.catalog == "" and settings.lookup_online is False


def test_catalog_and_online_lookup_read_through_settings():
    assert (
        default_catalog_path({"PANOPTES_CATALOG": "~/c.parquet"})
        == Path("~/c.parquet").expanduser()
    )
    assert online_enabled({"PANOPTES_LOOKUP_ONLINE": "on"})
    with pytest.raises(SettingsError, match="PANOPTES_LOOKUP_ONLINE"):
        online_enabled({"PANOPTES_LOOKUP_ONLINE": "sometimes"})
