"""measure-sources with the masters the build step made: flat fielding through the service path.

A unit's camera (``14d3bd``, registered) takes evening twilight flats and a dark sequence;
they go through record-image and the build step (:mod:`panoptes_network.calibration.build_masters`)
into the in-memory calibrations bucket and collection. A science frame seen through the fast
lens (35 % loss at the corners, 1 % PRNU, dark current) with stars of one brightness on a grid
from the centre to the corners is stored as a solved frame and measured by
:func:`measure_sources`:

- without masters (same frame, a network with no calibrations) the stars' fluxes show the
  injected vignetting: rms over field position above 5 %, corner-to-centre ratio as injected;
- with them, the rms over field position is below 1 %.

Run ``pytest -s`` to see the figures.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from panoptes_network.calibration.build_masters import build_camera_masters
from panoptes_network.calibration.frame_kind import FrameType
from panoptes_network.calibration.master_record import Master, master_fits_bytes
from panoptes_network.calibration.master_store import camera_masters, stored_fields
from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.frames.camera_registry import camera_constants_for
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_calibration import (
    MasterLibrary,
    calibrate_for_measurement,
)
from panoptes_network.photometry.measure_sources import MeasureOptions, measure_sources
from panoptes_network.photometry.sources_table import read_sources_table
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.schema import CALIBRATIONS, CalibrationStatus
from panoptes_network.pipeline.settings import Settings
from panoptes_network.pipeline.storage import md5_base64
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel, HotPixels
from panoptes_network.simulation.detector_response import (
    add_detector_response,
    vignetting,
)
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField
from tests.unit.calibration.recorded_frames import record_calibration_frames

S = Settings()
CAMERA = CameraModel("14d3bd", width=300, height=200, hot_pixel_count=2)
EVENING = datetime(2016, 9, 9, 4, 0, tzinfo=timezone.utc)  # 18:00 in Hawaii
SCIENCE_TIME = datetime(2016, 9, 9, 9, 0, tzinfo=timezone.utc)
EXPTIME, TEMPERATURE = 60.0, 20.0
FLUX = np.array([60000.0, 100000.0, 40000.0])  # e- per colour (R, G, B) above the lens
SKY = np.array([120.0, 200.0, 90.0])  # e- per pixel of each colour at the centre
SIGMA = 1.7  # px
OPTIONS = MeasureOptions(aperture_arcsec=8.0 * 10.3, annulus_arcsec=(11.0 * 10.3, 16.0 * 10.3))
SEQUENCE = "PAN001/14d3bd/20160909T085500"


def _darks(start: datetime, seed: int, **kwargs):
    return simulate_dark_sequence(
        CAMERA,
        start=start,
        n_frames=5,
        exptime=EXPTIME,
        temperature_c=TEMPERATURE,
        seed=seed,
        **kwargs,
    )


def _flats():
    return simulate_flat_sequence(
        CAMERA, start=EVENING, n_frames=10, stars_per_frame=4, temperature_c=TEMPERATURE, seed=2
    )


def _frame_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [300.0, 19.5]
    wcs.wcs.crpix = [CAMERA.width / 2 + 0.5, CAMERA.height / 2 + 0.5]
    scale = 10.3 / 3600
    wcs.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    return wcs


def _star_grid() -> tuple[np.ndarray, np.ndarray]:
    """Star places from near the corners to the centre, 40 px apart, with sub-pixel offsets."""
    rng = np.random.default_rng(21)
    xs, ys = np.meshgrid(np.linspace(18, 281, 7), np.linspace(18, 181, 5))
    return xs.ravel() + rng.uniform(-0.5, 0.5, xs.size), ys.ravel() + rng.uniform(
        -0.5, 0.5, xs.size
    )


#: A bright star between grid places near the centre: saturated in the raw frame.
BRIGHT = (170.3, 80.6, 40.0)  # x, y (px), times FLUX


def _science_pixels(seed: int) -> np.ndarray:
    grid_x, grid_y = _star_grid()
    x = np.append(grid_x, BRIGHT[0])
    y = np.append(grid_y, BRIGHT[1])
    scale = np.append(np.ones(grid_x.size), BRIGHT[2])
    node_x, node_y = SmoothField.node_positions(CAMERA.shape, (9, 13))
    node_throughput = vignetting(CAMERA, node_x, node_y)
    scene = FrameScene(
        camera=CAMERA,
        x=x,
        y=y,
        fluxes=FLUX[None, :] * (vignetting(CAMERA, x, y) * scale)[:, None],
        sigma_x=np.full(x.size, SIGMA),
        sigma_y=np.full(x.size, SIGMA),
        sky=tuple(SmoothField(level * node_throughput, CAMERA.shape) for level in SKY),
        hot=HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0)),
        exptime=EXPTIME,
    )
    light, _ = expected_electrons(scene)
    electrons = add_detector_response(light, CAMERA, exptime=EXPTIME, temperature_c=TEMPERATURE)
    return digitise(electrons, CAMERA, np.random.default_rng(seed))


def _catalog() -> InMemoryCatalog:
    x, y = _star_grid()
    x, y = np.append(x, BRIGHT[0]), np.append(y, BRIGHT[1])
    ra, dec = _frame_wcs().all_pix2world(x, y, 0)
    return InMemoryCatalog(
        Table(
            {
                "picid": np.arange(1, x.size + 1, dtype=np.int64),
                "ra": ra,
                "dec": dec,
                "vmag": np.append(np.full(x.size - 1, 9.0), 5.0 + 6.5 / 2),
            }
        )
    )


def _stage_science_frame(ctx: ChainContext, start: datetime, seed: int) -> tuple[str, str]:
    """Put a solved science frame in the solved bucket and its image document, as plate-solve."""
    stamp = start.strftime("%Y%m%dT%H%M%S")
    name = f"{SEQUENCE}/{stamp}.fits.fz"
    header = fits.Header()
    header["EXPTIME"] = EXPTIME
    header["DATE-OBS"] = start.strftime("%Y-%m-%dT%H:%M:%S")
    header["CAMTEMP"] = f"{TEMPERATURE:g} C"
    header["AIRMASS"] = 1.1
    header["LONG-OBS"] = -155.58
    header.extend(_frame_wcs().to_header(), update=True)
    out = io.BytesIO()
    hdu = fits.CompImageHDU(_science_pixels(seed), header=header)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out)
    ctx.store.put(S.solved_bucket, name, out.getvalue())
    image_id = f"PAN001_14d3bd_{stamp}"
    ctx.documents.merge(
        "images", image_id, {"status": "solved", "solved": True, "frame_type": "science"}
    )
    return name, image_id


def _measure(ctx, name, library):
    result = measure_sources(
        ctx, StoredObject(S.solved_bucket, name), _catalog(), OPTIONS, masters=library
    )
    assert result.action == "measured", result
    table, metadata = read_sources_table(
        ctx.store.read(S.sources_bucket, name.replace(".fits.fz", ".parquet"))
    )
    table.sort("picid")
    return table, metadata


def _with_masters(make_ctx, darks_start=EVENING + timedelta(hours=1), extra=()):
    ctx = make_ctx()
    record_calibration_frames(ctx, [*_darks(darks_start, seed=1), *_flats(), *extra])
    report = build_camera_masters(ctx, CAMERA.camera_id)
    return ctx, report


@pytest.fixture(scope="module")
def network(make_ctx):
    """A network whose camera has valid dark and flat masters, and its science frame."""
    ctx, report = _with_masters(make_ctx)
    assert [(o.kind, o.status) for o in report.outcomes] == [("dark", "valid"), ("flat", "valid")]
    name, image_id = _stage_science_frame(ctx, SCIENCE_TIME, seed=3)
    library = MasterLibrary()
    table, metadata = _measure(ctx, name, library)
    return ctx, report, library, image_id, table, metadata


@pytest.fixture(scope="module")
def raw_measurement(make_ctx):
    """The same science frame measured by a network without calibration masters."""
    ctx = make_ctx()
    name, image_id = _stage_science_frame(ctx, SCIENCE_TIME, seed=3)
    table, metadata = _measure(ctx, name, MasterLibrary())
    return ctx, image_id, table, metadata


def _grid_totals(table: Table) -> np.ndarray:
    grid = np.asarray(table["picid"]) <= _star_grid()[0].size
    flags = np.asarray(table["flags"])[grid]
    bad = SourceFlag.SATURATED | SourceFlag.NEAR_EDGE | SourceFlag.OFF_FRAME
    assert not (flags & int(bad)).any()
    return np.asarray(table["flux_r"] + table["flux_g"] + table["flux_b"])[grid]


def _rms(values: np.ndarray) -> float:
    return float(np.std(values) / np.mean(values))


def test_without_masters_the_fluxes_show_the_injected_vignetting(raw_measurement):
    ctx, image_id, table, metadata = raw_measurement
    x, y = _star_grid()
    throughput = vignetting(CAMERA, x, y)
    assert throughput.min() < 0.8  # the grid reaches the vignetted corners
    total = _grid_totals(table)
    corner, centre = np.argmin(throughput), np.argmax(throughput)
    measured_ratio = total[corner] / total[centre]
    injected_ratio = throughput[corner] / throughput[centre]
    print(
        f"\nmeasure-sources without masters: rms over field {100 * _rms(total):.2f} %, "
        f"corner/centre {measured_ratio:.3f} (injected {injected_ratio:.3f}), "
        f"rms of measured / injected vignetting {100 * _rms(total / throughput):.2f} %"
    )
    assert _rms(total) > 0.05
    assert _rms(total / throughput) < 0.01
    assert measured_ratio == pytest.approx(injected_ratio, abs=0.015)
    assert metadata["calibration"]["status"] == CalibrationStatus.UNCALIBRATED


def test_after_flat_fielding_through_measure_sources_the_fluxes_are_flat(network, raw_measurement):
    *_, table, _ = network
    total = _grid_totals(table)
    before = _grid_totals(raw_measurement[2])
    per_colour = [_rms(np.asarray(table[f"flux_{c}"])[: total.size]) for c in "rgb"]
    print(
        f"\nmeasure-sources with the built masters: rms over field {100 * _rms(total):.2f} % "
        f"(R {100 * per_colour[0]:.2f} %, G {100 * per_colour[1]:.2f} %, "
        f"B {100 * per_colour[2]:.2f} %); without masters {100 * _rms(before):.2f} %"
    )
    assert _rms(total) < 0.01
    assert max(per_colour) < 0.015
    assert np.median(total) == pytest.approx(FLUX.sum(), rel=0.03)  # the centre's fluxes


def test_a_star_saturated_in_the_raw_frame_stays_flagged(network):
    *_, table, _ = network
    bright = table[np.asarray(table["picid"]) == _star_grid()[0].size + 1]
    assert int(bright["flags"][0]) & int(SourceFlag.SATURATED)


def test_the_image_and_its_table_record_the_masters_applied(network):
    ctx, report, _, image_id, _, metadata = network
    dark_id, flat_id = (o.master_id for o in report.outcomes)
    image = ctx.documents.get("images", image_id)
    calibration = image["calibration"]
    assert calibration == metadata["calibration"]
    assert calibration["status"] == CalibrationStatus.CALIBRATED
    assert (calibration["dark_master_id"], calibration["flat_master_id"]) == (dark_id, flat_id)
    assert calibration["dark_kind"] == "dark" and calibration["dark_note"] is None
    dark_time = datetime.fromisoformat(ctx.documents.get(CALIBRATIONS, dark_id)["time"])
    hours = (SCIENCE_TIME - dark_time).total_seconds() / 3600
    assert calibration["dark_separation_hours"] == pytest.approx(hours)
    assert dark_id in calibration["summary"] and flat_id in calibration["summary"]
    assert image["status"] == "measured"


def test_a_frame_without_masters_is_measured_and_says_why(raw_measurement):
    ctx, image_id, table, metadata = raw_measurement
    calibration = ctx.documents.get("images", image_id)["calibration"]
    assert calibration == metadata["calibration"] and len(table) > 0
    assert calibration["dark_master_id"] is None and calibration["flat_master_id"] is None
    assert (
        "no dark master of camera 14d3bd for 60 s at 20 C bin exists" in (calibration["dark_note"])
    )
    assert "no bias master of camera 14d3bd exists" in calibration["dark_note"]
    assert calibration["flat_note"] == "no flat master of camera 14d3bd exists"
    assert "no calibration master applied" in calibration["summary"]


def test_a_refused_nearer_dark_falls_back_to_the_valid_one_and_says_so(make_ctx):
    # the next night: its darks leaked light; the previous night's are good
    science_time = SCIENCE_TIME + timedelta(days=1)
    leaky = _darks(science_time - timedelta(hours=4), seed=9, light_leak_e_per_s=2.0)
    ctx, report = _with_masters(make_ctx, extra=leaky)
    statuses = {o.master_id: o.status for o in report.outcomes}
    (refused,) = [m for m, s in statuses.items() if s == "refused"]
    (valid,) = [o.master_id for o in report.outcomes if o.kind == "dark" and o.status == "valid"]
    name, image_id = _stage_science_frame(ctx, science_time, seed=3)
    _, metadata = _measure(ctx, name, MasterLibrary())
    calibration = ctx.documents.get("images", image_id)["calibration"]
    assert calibration["dark_master_id"] == valid
    note = calibration["dark_note"]
    assert note.startswith(f"fell back to {valid}") and refused in note and "light leak" in note
    assert metadata["calibration"]["dark_note"] == note


def test_a_bias_master_stands_in_for_a_missing_dark(make_ctx):
    ctx = make_ctx()
    biases = simulate_dark_sequence(
        CAMERA, start=EVENING, n_frames=5, exptime=0.00025, temperature_c=TEMPERATURE, seed=4
    )
    record_calibration_frames(ctx, biases)
    (bias,) = build_camera_masters(ctx, CAMERA.camera_id).outcomes
    name, image_id = _stage_science_frame(ctx, SCIENCE_TIME, seed=3)
    _measure(ctx, name, MasterLibrary())
    calibration = ctx.documents.get("images", image_id)["calibration"]
    assert (calibration["dark_master_id"], calibration["dark_kind"]) == (bias.master_id, "bias")
    assert (
        "no dark master" in calibration["dark_note"] and "bias master" in (calibration["dark_note"])
    )
    assert calibration["status"] == CalibrationStatus.PARTLY_CALIBRATED


def test_each_master_is_read_once_for_many_frames(network):
    ctx, _, library, *_ = network
    assert library.images_read == 2
    name, _ = _stage_science_frame(ctx, SCIENCE_TIME + timedelta(minutes=2), seed=5)
    _measure(ctx, name, library)
    assert library.images_read == 2


def test_calibration_frames_are_not_measured(network):
    ctx, *_ = network
    name, image_id = _stage_science_frame(ctx, SCIENCE_TIME + timedelta(minutes=4), seed=6)
    ctx.documents.merge("images", image_id, {"frame_type": "flat", "due_time": SCIENCE_TIME})
    result = measure_sources(ctx, StoredObject(S.solved_bucket, name), _catalog(), OPTIONS)
    assert result.action == "skipped" and "calibration frame" in result.detail["why"]
    image = ctx.documents.get("images", image_id)
    assert image["status"] == "solved" and image["due_time"] is None


def _store_master(ctx: ChainContext, master: Master) -> None:
    data = master_fits_bytes(master)
    path = f"14d3bd/{master.kind.value}/{master.master_id}.fits"
    ctx.store.put(S.calibrations_bucket, path, data)
    record = {
        **master.to_record(),
        **stored_fields(
            fits_path=path,
            fits_md5=md5_base64(data),
            input_frames=[],
            key="k",
            group_key=master.bin_key,
            built_time=EVENING,
            software_version="test",
        ),
    }
    ctx.documents.merge(CALIBRATIONS, master.master_id, record)


def _flat_master(data: np.ndarray) -> Master:
    return Master(
        kind=FrameType.FLAT,
        camera_id="14d3bd",
        status="valid",
        reason=None,
        data=data.astype(np.float32),
        shape=data.shape,
        start=EVENING,
        end=EVENING,
        time=EVENING,
        period="night",
        night="2016-09-08",
        week="2016-W36",
        bayer_pattern="RGGB",
    )


def test_only_pixels_saturated_in_the_raw_frame_count_as_saturated(ctx):
    shape = (20, 40)
    flat = np.ones(shape)
    flat[:, 20:] = 0.5  # a vignetted half
    flat[0, 0] = 0.0  # a pixel the flat cannot correct
    _store_master(ctx, _flat_master(flat))
    header = fits.Header({"EXPTIME": EXPTIME, "CAMTEMP": "20 C"})
    constants = camera_constants_for(ctx.documents, "14d3bd", header)
    bias, saturation = float(constants["bias_adu"]), float(constants["saturation_adu"])
    raw = np.full(shape, bias + 100, dtype=np.uint16)
    bright = bias + 0.8 * (saturation - bias)  # unsaturated, doubled by the flat
    raw[5, 30] = int(bright)
    raw[5, 5] = int(saturation)
    out = calibrate_for_measurement(
        ctx, MasterLibrary(), "14d3bd", header, raw, constants, SCIENCE_TIME
    )
    assert out.calibration.flat_master_id is not None
    assert out.pixels[5, 30] > saturation  # lifted past the camera's saturation...
    assert out.pixels[5, 30] < out.saturation_adu  # ... but not counted as saturated
    assert out.pixels[5, 5] >= out.saturation_adu  # raw-saturated stays saturated
    assert np.count_nonzero(out.pixels >= out.saturation_adu) == 1
    assert out.pixels[0, 0] == np.float32(bias) and out.calibration.pixels_without_flat == 1
    assert out.pixels[5, 25] == pytest.approx(bias + 200)


def test_masters_of_another_frame_shape_are_ignored_with_a_note(ctx):
    _store_master(ctx, _flat_master(np.ones((20, 40))))
    header = fits.Header({"EXPTIME": EXPTIME})
    constants = camera_constants_for(ctx.documents, "14d3bd", header)
    raw = np.full((30, 40), int(constants["bias_adu"]) + 50, dtype=np.uint16)
    out = calibrate_for_measurement(
        ctx, MasterLibrary(), "14d3bd", header, raw, constants, SCIENCE_TIME
    )
    assert out.pixels is raw and out.calibration.status == CalibrationStatus.UNCALIBRATED
    assert "1 master(s) of another frame shape than 30 x 40 ignored" in out.calibration.flat_note
    assert camera_masters(ctx.documents, "14d3bd")[0]["shape"] == [20, 40]
