"""A transit passes through build-lightcurve: pixel-level frames, the service's code path.

One module fixture simulates a 48-frame observation of the HD 189733 field (full-size raw
Bayer frames, Tycho-2 stars from the local catalog, 120 s exposures every 128 s, the field
rising) with a 2 % box transit lasting half the observation, centred on it, on an isolated
V 9.5-10 star. Every frame is flat-fielded with the camera's flat master (built from its
simulated twilight flats) and measured at its true WCS; the tables go into the sources bucket
of an in-memory chain exactly as measure-sources writes them, and build-lightcurve (the
step its service calls) makes the run. The star's ``lightcurves`` document is read back.

The depth is measured on the document's flux (after whatever correction the run chose) as
one minus the mean of the frames wholly in transit over the mean of the frames wholly out of
it. Its error is measured the way a survey does: the robust spread (1.4826 MAD) of the same
statistic over every quiet star within 0.5 mag of the target in the same run, which keeps
the time-correlated noise of real Bayer photometry (in red and blue it is about three times
the white-noise error: about 1 % against 0.3 % at V 9.5, for a camera of 11.9 e- read noise
behind a lens losing 35 % of the light at the corners). The tests ask:

- in every colour: no point of the transit clipped; the correction keeps at least 95 % of
  the depth the same points show before it (``flux_raw``, from the run's data file); the
  depth within 2.5 sigma of the injected 2 %;
- in green, the colour with the best signal to noise, the depth within 15 % of the injected
  one (the error there is about 10 % of the depth);
- the former default, each star's own BIC-gated detrending, run on the same tables, is
  reported for comparison (on this observation it kept about 40 % of the depth in green).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.lightcurves.build_lightcurve import build_lightcurve
from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.lightcurves.frame_quality import assess_frames
from panoptes_network.lightcurves.products import read_lightcurve_rows
from panoptes_network.photometry.measure_sources import sources_name
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.pipeline.schema import LIGHTCURVES
from panoptes_network.simulation import (
    DEFAULT_UNIT,
    SequenceSpec,
    SequenceTruth,
    Transit,
    simulate_sequence,
)
from panoptes_network.simulation.fields import field_position
from panoptes_network.simulation.measured import (
    camera_flat,
    field_stars,
    isolated_stars,
    measure_sequence,
)
from panoptes_network.simulation.observing import darkest_time
from tests.unit.fakes import MemoryStore

FRAMES = 48
EXPTIME = 120.0
CADENCE = 128.0
FIELD = "HD 189733"
DEPTH = 0.02
SEED = 21


@pytest.fixture(scope="module")
def run(local_catalog, tmp_path_factory, make_ctx):
    catalog = local_catalog
    ra, dec = field_position(FIELD)
    highest = darkest_time(DEFAULT_UNIT, ra, dec, datetime(2026, 8, 20, tzinfo=timezone.utc))
    assert highest is not None
    quiet = SequenceSpec(
        ra=ra,
        dec=dec,
        start=highest - timedelta(hours=2),
        exptime=EXPTIME,
        count=FRAMES,
        interval=CADENCE,
        field_name=FIELD,
        seed=SEED,
    )
    stars = field_stars(quiet, catalog, tmp_path_factory.mktemp("probe"))
    target = int(isolated_stars(stars, (9.5, 10.0), quiet.camera.shape)[0])
    span = FRAMES * CADENCE
    transit = Transit(
        picid=target,
        mid_time=quiet.start + timedelta(seconds=span / 2),
        depth=DEPTH,
        duration=span / 2 / 60.0,
        limb_darkening=None,
    )
    spec = dataclasses.replace(quiet, events=(transit,))
    result = simulate_sequence(spec, catalog, tmp_path_factory.mktemp("transit"))
    # the camera's pixel response non-uniformity out, as measure-sources does with its masters
    flat = camera_flat(spec.camera, start=highest - timedelta(hours=6))
    tables = measure_sequence(result.folder, catalog, vmag_range=spec.vmag_range, flat=flat)
    store = MemoryStore()
    settings = make_ctx().settings
    for table, name in zip(tables, SequenceTruth.read(result.folder).frames["file"], strict=True):
        path = ImagePath.parse(f"{result.folder.relative_to(result.folder.parents[2])}/{name}")
        meta = {**table.meta, "aperture_radius": 6.0, "software_version": "test"}
        object_name = sources_name(path)
        store.put(settings.sources_bucket, object_name, write_sources_table(table, meta))
    ctx = make_ctx(store=store)
    sequence_id = str(tables[0].meta["sequence_id"])
    outcome = build_lightcurve(ctx, {"sequence_id": sequence_id, "options": {}})
    docs = ctx.documents.find(LIGHTCURVES, "picid", "==", target)
    assert len(docs) == 1
    doc = docs[0][1]
    data = ctx.store.read(settings.lightcurves_bucket, doc["data_path"])
    rows = read_lightcurve_rows(data, doc["data_row_start"], doc["data_row_count"])
    everyone = ctx.documents.find(LIGHTCURVES, "sequence_id", "==", sequence_id)
    peers = [
        fields
        for _, fields in everyone
        if not fields["variable"]
        and fields["picid"] != target
        and abs(fields["vmag"] - doc["vmag"]) < 0.5
    ]
    assert len(peers) >= 100, "too few stars of the target's brightness to measure the noise"
    all_rows = read_lightcurve_rows(data)
    return transit, tables, outcome, doc, rows, (peers, all_rows)


def test_the_run_used_every_frame(run):
    transit, tables, outcome, doc, rows, _ = run
    assert outcome.action == "processed"
    assert len(tables) == FRAMES and doc["num_points"] == FRAMES
    assert doc["points_embedded"] and len(rows) == FRAMES


def _windows(times: np.ndarray, transit: Transit) -> tuple[np.ndarray, np.ndarray]:
    """Frames wholly inside and wholly outside the transit (mid-exposure POSIX times)."""
    first = (transit.mid_time - timedelta(minutes=transit.duration / 2)).timestamp()
    last = (transit.mid_time + timedelta(minutes=transit.duration / 2)).timestamp()
    begin, end = times - EXPTIME / 2, times + EXPTIME / 2
    return (begin >= first) & (end <= last), (end <= first) | (begin >= last)


def _depth(flux: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> tuple[float, float]:
    """Depth and its formal error from the out-of-transit scatter."""
    level_in, level_out = np.nanmean(flux[inside]), np.nanmean(flux[outside])
    scatter = np.nanstd(flux[outside], ddof=1)
    n_in, n_out = np.isfinite(flux[inside]).sum(), np.isfinite(flux[outside]).sum()
    return 1.0 - level_in / level_out, scatter * np.sqrt(1 / n_in + 1 / n_out) / level_out


def _colour(run, colour: str):
    transit, _, _, doc, rows, _ = run
    times = np.asarray(doc["points"]["time"], dtype=float)
    inside, outside = _windows(times, transit)
    flux = np.array([np.nan if v is None else v for v in doc["points"][colour]], dtype=float)
    clipped = np.asarray(doc["points"][f"{colour}_outlier"], dtype=bool)
    raw = np.asarray(rows[f"flux_raw_{colour}"], dtype=float)
    return inside, outside, flux, clipped, raw


def _null_spread(run, colour: str) -> float:
    """Robust spread of the depth statistic over quiet stars of the target's brightness."""
    transit, _, _, doc, _, (peers, all_rows) = run
    times = np.asarray(doc["points"]["time"], dtype=float)
    inside, outside = _windows(times, transit)
    depths = []
    for peer in peers:
        part = slice(peer["data_row_start"], peer["data_row_start"] + peer["data_row_count"])
        flux = np.asarray(all_rows[f"flux_{colour}"][part], dtype=float)
        flux[np.asarray(all_rows[f"outlier_{colour}"][part], dtype=bool)] = np.nan
        depths.append(_depth(flux, inside, outside)[0])
    depths = np.asarray(depths)
    return float(1.4826 * np.nanmedian(np.abs(depths - np.nanmedian(depths))))


@pytest.mark.parametrize("colour", ["r", "g", "b"])
def test_transit_kept_in_every_colour(run, colour):
    inside, outside, flux, clipped, raw = _colour(run, colour)
    assert inside.sum() >= 18 and outside.sum() >= 18
    assert not clipped[inside].any(), "a point of the transit was clipped as an outlier"
    depth, _ = _depth(flux, inside, outside)
    before, _ = _depth(raw, inside, outside)
    assert depth >= 0.95 * before, (colour, depth, before)
    spread = _null_spread(run, colour)
    # the noise must leave the 2.5-sigma test some power: at most 0.6 of the depth (red, the
    # noisiest colour, is at about half of it with this camera's read noise and lens)
    assert spread < 0.6 * DEPTH, (colour, spread)
    assert abs(depth - DEPTH) < 2.5 * spread, (colour, depth, spread)


def test_depth_in_green_within_15_percent(run):
    inside, outside, flux, _, _ = _colour(run, "g")
    depth, _ = _depth(flux, inside, outside)
    assert _null_spread(run, "g") < 0.15 * DEPTH
    assert depth == pytest.approx(DEPTH, rel=0.15)


def test_the_former_self_detrending_for_comparison(run, capsys):
    transit, tables, _, _, _, _ = run
    curves = differential_lightcurves(assess_frames(tables).kept, correction="self")
    j = curves.star_index(transit.picid)
    inside, outside = _windows(np.asarray(curves.stack.times), transit)
    kept = {}
    for colour, lc in curves.colours.items():
        depth, _ = _depth(np.where(lc.outlier[:, j], np.nan, lc.flux[:, j]), inside, outside)
        kept[colour] = (bool(lc.detrended[j]), round(depth / DEPTH, 3))
    with capsys.disabled():
        print(f"\nself-detrending (detrended, depth kept) per colour: {kept}")
    assert set(kept) == {"r", "g", "b"}
