"""``bin/simulate``: options, clear errors (exit 2) and one full-size run."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.cli import simulate as simulate_cli
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import read_header_from_file
from panoptes_network.simulation import SequenceTruth, Unit
from panoptes_network.simulation.observing import (
    BRIGHT_MOON_FRACTION,
    bright_moon,
    darkest_time,
    moon_state,
    observing_conditions,
)
from tests.conftest import ROOT

START = "2024-09-12T06:30:00"
T0 = datetime(2024, 9, 12, 6, 30, tzinfo=timezone.utc)


@pytest.fixture
def catalog(monkeypatch) -> InMemoryCatalog:
    """3000 random stars around KIC 8462852 (PICID 1000 at its position), for the real one."""
    rng = np.random.default_rng(1)
    n = 3000
    ra, dec = 301.564 + rng.uniform(-12, 12, n), 44.457 + rng.uniform(-8, 8, n)
    ra[0], dec[0] = 301.564, 44.457  # within 1 deg (the pointing error) of the frame centre
    stars = InMemoryCatalog(
        Table(
            {
                "picid": np.arange(n, dtype=np.int64) + 1000,
                "ra": ra,
                "dec": dec,
                "vmag": rng.uniform(7, 13, n),
                "bv": rng.uniform(0, 1.5, n),
            }
        )
    )
    monkeypatch.setattr(simulate_cli, "_load_catalog", lambda path: stars)
    return stars


def run(args, capsys):
    status = simulate_cli.main(args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ra", "400", "--dec", "10", "--start", START], "--ra: 400.0 is not a right ascension"),
        (["--ra", "10", "--start", START], "--ra/--dec: give both"),
        (["--field", "Nowhere", "--start", START], "unknown field 'Nowhere'"),
        (["--field", "WASP-33", "--start", "yesterday"], "--start: 'yesterday' is not an ISO"),
        (["--field", "WASP-33", "--start", START, "--camera", "XYZ"], "--camera: camera id"),
        (["--field", "WASP-33", "--start", START, "--unit", "PAN1"], "unit id 'PAN1'"),
        (["--field", "WASP-33", "--start", START, "--count", "0"], "--count: 0 must be"),
        (["--field", "WASP-33", "--start", START, "--interval", "60"], "--interval: 60.0 s"),
        (
            ["--field", "WASP-33", "--start", START, "--inject-transit", "12:0.01:60"],
            "is not PICID:DEPTH:DURATION_MIN:MIDTIME",
        ),
        (
            ["--field", "WASP-33", "--start", START, "--inject-transit", "12:2:60:+30"],
            "transit depth 2.0 must be a fraction",
        ),
    ],
)
def test_bad_inputs_exit_2_naming_the_input(args, message, capsys, tmp_path):
    status, out, err = run([*args, "--output", str(tmp_path)], capsys)
    assert status == 2
    assert out == ""
    assert message in err and err.startswith("bin/simulate: error:")
    assert not any(tmp_path.iterdir())


def test_unknown_transit_star_and_field_below_horizon_exit_2(catalog, capsys, tmp_path):
    args = ["--field", "KIC 8462852", "--start", START, "--output", str(tmp_path)]
    status, _, err = run([*args, "--inject-transit", "5:0.01:60:+10"], capsys)
    assert status == 2 and "PICID 5 is not among the" in err
    status, _, err = run(["--ra", "10", "--dec", "-80", "--start", START], capsys)
    assert status == 2 and "below the horizon of PAN001" in err


def test_parse_transit_accepts_fractions_percentages_and_times():
    relative = simulate_cli.parse_transit("42:1%:90:+30", T0)
    assert (relative.picid, relative.depth, relative.duration) == (42, 0.01, 90.0)
    assert relative.mid_time == T0 + timedelta(minutes=30)
    absolute = simulate_cli.parse_transit("42:0.02:60:2024-09-12T07:15:00Z", T0, box=True)
    assert absolute.mid_time == datetime(2024, 9, 12, 7, 15, tzinfo=timezone.utc)
    assert absolute.limb_darkening is None


def test_a_run_prints_the_folder_ready_for_upload(catalog, capsys, tmp_path):
    args = ["--field", "KIC 8462852", "--start", START, "--count", "1", "--seed", "3"]
    args += ["--output", str(tmp_path), "--inject-transit", "1000:0.01:60:+1", "--clouds"]
    status, out, err = run(args, capsys)
    folder = tmp_path / "PAN001" / "14d3bd" / "20240912T063000"
    assert status == 0, err
    assert out.strip() == str(folder)
    assert f"bin/upload {folder}" in err
    frame = folder / "20240912T063000.fits"
    assert frame.is_file() and frame.stat().st_size > 36_000_000
    header = read_header_from_file(frame)
    assert (
        header["IMAGEID"]
        == ImagePath.parse("PAN001/14d3bd/20240912T063000/20240912T063000.fits").image_id
    )
    assert header["FIELD"] == "KIC 8462852"
    truth = SequenceTruth.read(folder)
    assert truth.parameters["clouds"] is not None and truth.parameters["seed"] == 3
    assert list(truth.events["picid"]) == [1000]
    # Running again into the same folder needs --overwrite.
    status, _, err = run(args, capsys)
    assert status == 2 and "--overwrite" in err


def test_the_wrapper_runs_the_module():
    run = subprocess.run([str(ROOT / "bin" / "simulate"), "--help"], capture_output=True, text=True)
    assert run.returncode == 0
    assert "--inject-transit" in run.stdout and "--demo-events" in run.stdout


# --------------------------------------------------------------------------------------
# The default start avoids a bright Moon
# --------------------------------------------------------------------------------------

FULL_MOON = datetime(2024, 9, 18, 4, 0, tzinfo=timezone.utc)  # full at 02:34 UTC; dusk in Hawaii


def default_start(argv: list[str], now: datetime) -> tuple[Unit, float, float, datetime]:
    args = simulate_cli._parser().parse_args(argv)
    unit = Unit(args.unit, args.latitude, args.longitude, args.elevation)
    ra, dec, _, start = simulate_cli._pointing_and_start(args, unit, now=now)
    return unit, ra, dec, start


@pytest.mark.parametrize("argv", [["--field", "WASP-33"], []], ids=["field", "zenith"])
def test_default_start_is_dark_with_the_moon_down_or_dim(argv):
    unit, ra, dec, start = default_start(argv, FULL_MOON)
    conditions = observing_conditions(unit, start, ra, dec)
    moon = conditions.moon
    assert not bright_moon(moon.altitude, moon.fraction)
    assert moon.altitude < 0 or moon.fraction < BRIGHT_MOON_FRACTION
    assert conditions.sun_altitude < -18 and conditions.altitude > 30
    assert FULL_MOON < start < FULL_MOON + timedelta(days=10)
    # the night of the full Moon itself has a dark time for the field, with the Moon up
    first_night = darkest_time(unit, ra, dec, FULL_MOON)
    assert first_night is not None and first_night < start
    full = moon_state(unit, first_night)
    assert full.altitude > 0 and full.fraction > 0.95
    # the default follows "now" deterministically: same now, same start
    assert default_start(argv, FULL_MOON)[3] == start


def test_default_start_of_a_moonless_night_is_that_night():
    new_moon = datetime(2024, 10, 2, 4, 0, tzinfo=timezone.utc)
    unit, ra, dec, start = default_start(["--field", "WASP-33"], new_moon)
    assert start == darkest_time(unit, ra, dec, new_moon)  # the Moon changes nothing
    assert start - new_moon < timedelta(days=1)


def test_explicit_start_is_kept_with_a_warning_when_a_bright_moon_is_up(capsys, tmp_path):
    bright = "2024-09-18T13:00:00"  # full Moon 50 deg up, WASP-33 at 72 deg
    _, _, _, start = default_start(["--field", "WASP-33", "--start", bright], FULL_MOON)
    assert start == datetime(2024, 9, 18, 13, 0, tzinfo=timezone.utc)
    # a missing catalog stops the run after the checks of the inputs, before rendering
    base = ["--field", "WASP-33", "--output", str(tmp_path), "--catalog", str(tmp_path / "no")]
    status, _, err = run([*base, "--start", bright], capsys)
    assert status == 2
    assert "simulate: warning: at --start the Moon is 100% lit and 50 deg above" in err
    status, _, err = run([*base, "--start", "2024-09-24T09:10:00"], capsys)  # Moon just set
    assert status == 2 and "warning" not in err
