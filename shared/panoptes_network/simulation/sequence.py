"""Simulate a sequence: plan it, draw its stars, render and write every frame and its truth.

The steps, in order:

1. check the :class:`~.spec.SequenceSpec` and that the output folder is free;
2. draw the sequence's hidden state from the seed: pointing error, camera rotation and
   tracking drift (:mod:`.pointing`), the PSF's time variation (:mod:`.psf`), clouds
   (:mod:`.clouds`); hot pixels come from the camera id (:mod:`.camera`);
3. check the field is above the horizon (and warn when the Sun is up or the field low);
4. draw the catalog stars on the first frame's footprint (with a margin for the drift) from
   any :class:`~panoptes_network.catalog.star_catalog.Catalog`;
5. check the injected events' stars are in the field; add the demo events if asked (only
   then is the output folder created, or emptied with ``overwrite``);
6. for every frame: its scene (:mod:`.scene`), noiseless image and noise (:mod:`.render`),
   the unit's header (:mod:`.unit_header`), the FITS file
   ``<output>/<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.fits`` and its star truth;
7. the sequence's truth tables (:mod:`.truth`).

Random streams are independent per purpose and per frame (``numpy`` generators seeded with
``[seed, purpose, frame]``), so the same seed gives the same bytes and a frame does not depend
on how many follow it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.simulation.camera import hot_pixels
from panoptes_network.simulation.clouds import CloudScreen
from panoptes_network.simulation.demo_events import choose_demo_events
from panoptes_network.simulation.detector_response import dark_current, prnu_map
from panoptes_network.simulation.observing import (
    altaz,
    kasten_young_airmass,
    moon_state,
    observing_conditions,
)
from panoptes_network.simulation.passbands import PASSBANDS
from panoptes_network.simulation.pointing import PointingModel
from panoptes_network.simulation.psf import STAMP_HALF, PsfModel
from panoptes_network.simulation.render import digitise, expected_electrons
from panoptes_network.simulation.scene import FrameConditions, FramePhysics, StarField, frame_scene
from panoptes_network.simulation.spec import SequenceSpec, SimulationInputError
from panoptes_network.simulation.truth import (
    TRUTH_FOLDER,
    frame_stars_table,
    frames_table,
    hot_pixels_table,
    stars_table,
    write_table,
)
from panoptes_network.simulation.unit_header import (
    exif_cards,
    fits_bytes,
    sensor_temperature,
    unit_cards,
    written_time,
)
from panoptes_network.simulation.variability import Event, events_table, exposure_mean

__all__ = ["SimulationResult", "read_frame", "simulate_sequence"]

_POINTING, _PSF, _CLOUDS, _EXIF, _NOISE = 1, 2, 3, 5, 6


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation wrote.

    Attributes
    ----------
    folder : Path
        The sequence folder ``<output>/<UNIT>/<CAMERA>/<SEQSTART>`` (give it to ``bin/upload``).
    frames : list of Path
        The FITS files, in time order.
    truth : Path
        The truth folder.
    stars : int
        Catalog stars drawn.
    events : list of Event
        Injected events (given and demo).
    warnings : list of str
        Things worth telling the user (Sun up, field low, no stars).
    """

    folder: Path
    frames: list[Path]
    truth: Path
    stars: int
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _check_folder(folder: Path, overwrite: bool) -> None:
    """Refuse a sequence folder that already holds files, unless overwriting."""
    if not overwrite and folder.exists() and any(folder.iterdir()):
        raise SimulationInputError(
            "--output",
            f"{folder} already holds files; pass --overwrite to replace them or choose "
            "another --output, --start or --camera",
        )


def _prepare_folder(folder: Path) -> None:
    """Create the sequence folder, removing the frames and truth of an earlier run."""
    if folder.exists():
        for old in folder.glob("*.fits"):
            old.unlink()
        shutil.rmtree(folder / TRUTH_FOLDER, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    partial.replace(path)


def _check_sky(spec: SequenceSpec, pointing: PointingModel, mids: list[datetime]) -> list[str]:
    ra, dec = pointing.true_centre
    warnings: list[str] = []
    for mid in (mids[0], mids[-1]) if len(mids) > 1 else (mids[0],):
        alt = float(altaz(spec.unit, mid, ra, dec)[0])
        if alt <= 0:
            raise SimulationInputError(
                "--start",
                f"the field (RA {spec.ra:.3f}, Dec {spec.dec:+.3f}) is below the horizon of "
                f"{spec.unit.unit_id} at {mid:%Y-%m-%dT%H:%M:%S} UTC (altitude {alt:.1f} deg); "
                "choose another --start or pointing",
            )
        if alt < 20:
            warnings.append(
                f"the field is low at {mid:%Y-%m-%dT%H:%M:%S} UTC (altitude {alt:.1f} deg)"
            )
    return warnings


def _parameters(
    spec: SequenceSpec,
    pointing: PointingModel,
    psf: PsfModel,
    clouds: CloudScreen | None,
    stars: int,
) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        return value

    ra, dec = pointing.true_centre
    return {
        "unit": plain(spec.unit),
        "camera": plain(spec.camera),
        "field": spec.field_card,
        "mount": {"ra": spec.ra, "dec": spec.dec},
        "start": spec.start_utc.isoformat(),
        "exptime": spec.exptime,
        "count": spec.count,
        "interval": spec.cadence,
        "seed": spec.seed,
        "vmag_range": list(spec.vmag_range),
        "stars": stars,
        "pointing": {**plain(pointing), "true_centre": [ra, dec]},
        "psf": plain(psf),
        "sky": plain(spec.sky),
        "passbands": plain(list(PASSBANDS)),
        "clouds": plain(clouds) if clouds is not None else None,
        "flux_reference": {
            "vmag": 10.0,
            "bv": 0.65,
            "exptime_s": 120.0,
            "note": "zero_point: channel e- summed over the colour's pixels, above the atmosphere",
        },
    }


def _frame_row(
    index: int,
    path: ImagePath,
    start: datetime,
    spec: SequenceSpec,
    physics: FramePhysics,
    conditions: FrameConditions,
    header: Any,
    psf: PsfModel,
    hours: float,
    pointing: PointingModel,
) -> dict[str, Any]:
    camera = spec.camera
    cx, cy = camera.centre
    wcs = conditions.wcs
    ra_c, dec_c = (float(v) for v in wcs.all_pix2world(cx, cy, 0))
    alt_c = float(altaz(spec.unit, conditions.mid_time, ra_c, dec_c)[0])
    cd = wcs.wcs.cd
    clouds = physics.clouds_field
    mid = start + timedelta(seconds=spec.exptime / 2.0)
    return {
        "index": index,
        "image_id": path.image_id,
        "image_start": path.image_start,
        "file": Path(path.object_name).name,
        "star_table": f"frames/{path.image_start}.ecsv",
        "date_obs": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "mid_time": mid.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "exptime": spec.exptime,
        "crval1": float(wcs.wcs.crval[0]),
        "crval2": float(wcs.wcs.crval[1]),
        "crpix1": float(wcs.wcs.crpix[0]),
        "crpix2": float(wcs.wcs.crpix[1]),
        "cd1_1": float(cd[0, 0]),
        "cd1_2": float(cd[0, 1]),
        "cd2_1": float(cd[1, 0]),
        "cd2_2": float(cd[1, 1]),
        "wcs_header": wcs.to_header().tostring(),
        "ra_centre": ra_c,
        "dec_centre": dec_c,
        "ra_mnt": header.ra,
        "dec_mnt": header.dec,
        "ha_mnt": header.hour_angle,
        "airmass_mnt": header.airmass,
        "moonsep": header.moon_separation,
        "moonfrac": header.moon.fraction,
        "altitude_centre": alt_c,
        "airmass_centre": float(kasten_young_airmass(alt_c)),
        "moon_altitude": conditions.moon.altitude,
        "moon_phase_angle": conditions.moon.phase_angle,
        "sun_altitude": header.sun_altitude,
        "sky_v": float(physics.sky_v.at(cx, cy)),
        "sky_r": float(physics.scene.sky[0].at(cx, cy)),
        "sky_g": float(physics.scene.sky[1].at(cx, cy)),
        "sky_b": float(physics.scene.sky[2].at(cx, cy)),
        "cloud_centre": float(clouds.at(cx, cy)),
        "cloud_mean": float(clouds.values.mean()),
        "cloud_min": float(clouds.values.min()),
        "fwhm_centre": float(
            psf.fwhm(cx, cy, camera.shape, conditions.start_seconds + spec.exptime / 2.0)
        ),
        "drift_x": pointing.drift[0] * hours,
        "drift_y": pointing.drift[1] * hours,
        "stars": len(physics.index),
    }


def simulate_sequence(
    spec: SequenceSpec,
    catalog: Catalog,
    output: str | Path,
    overwrite: bool = False,
    progress: Callable[[int, Path], None] | None = None,
) -> SimulationResult:
    """Render a sequence of raw frames and its truth, as a unit would upload them.

    Parameters
    ----------
    spec : SequenceSpec
        What to simulate.
    catalog : Catalog
        Where the stars come from (any backend).
    output : str or Path
        Output folder; frames go to ``<output>/<UNIT>/<CAMERA>/<SEQSTART>/``.
    overwrite : bool
        Replace the frames and truth of an existing sequence folder.
    progress : callable, optional
        Called with (frame index, file) after each frame is written.

    Returns
    -------
    SimulationResult
        The folder, files, star count, events and warnings.

    Raises
    ------
    SimulationInputError
        If an input is unusable (bad value, field below the horizon, unknown event star,
        existing output).
    """
    spec.validate()
    camera, unit = spec.camera, spec.unit
    paths = spec.frame_paths()
    starts = spec.frame_starts()
    folder = Path(output) / unit.unit_id / camera.camera_id / paths[0].sequence_start

    pointing = PointingModel.random(spec.ra, spec.dec, _rng(spec.seed, _POINTING))
    psf = spec.psf or PsfModel.random(_rng(spec.seed, _PSF))
    clouds = CloudScreen.random(_rng(spec.seed, _CLOUDS)) if spec.clouds else None
    hot = hot_pixels(camera)
    t0 = starts[0]
    mids = [s + timedelta(seconds=spec.exptime / 2.0) for s in starts]
    hours = [(m - t0).total_seconds() / 3600.0 for m in mids]
    warnings = _check_sky(spec, pointing, mids)
    _check_folder(folder, overwrite)

    speed = math.hypot(*pointing.drift)
    margin = STAMP_HALF + 2 + math.ceil(speed * hours[-1])
    rows = catalog.footprint_search(
        pointing.wcs(camera, hours[0]), camera.shape, margin=margin, vmag_range=spec.vmag_range
    )
    stars = StarField.from_catalog(rows, spec.exptime)
    if len(stars) == 0:
        warnings.append("the catalog has no stars in this field: the frames hold only sky")
    known = set(stars.picid.tolist())
    for event in spec.events:
        if int(event.picid) not in known:
            raise SimulationInputError(
                f"--inject-{event.kind}",
                f"PICID {event.picid} is not among the {len(stars)} catalog stars of the field "
                f"(V {spec.vmag_range[0]} to {spec.vmag_range[1]}); pick one from a first run's "
                f"{TRUTH_FOLDER}/stars.ecsv",
            )
    events: list[Event] = list(spec.events)

    def conditions_of(i: int, variability: np.ndarray) -> FrameConditions:
        return FrameConditions(
            start_seconds=(starts[i] - t0).total_seconds(),
            exptime=spec.exptime,
            mid_time=mids[i],
            wcs=pointing.wcs(camera, hours[i]),
            moon=moon_state(unit, mids[i]),
            variability=variability,
        )

    response = prnu_map(camera, spec.prnu_rms) if spec.prnu_rms > 0 else None

    def physics_of(conditions: FrameConditions, temperature_c: float = 0.0) -> FramePhysics:
        return frame_scene(
            stars,
            conditions,
            unit,
            camera,
            spec.sky,
            psf,
            clouds,
            hot,
            response=response,
            dark_electrons=float(dark_current(temperature_c)) * spec.exptime,
        )

    if spec.demo_events:
        first = physics_of(conditions_of(0, np.ones(len(stars))))
        span = (starts[-1] - t0).total_seconds() + spec.exptime
        events += choose_demo_events(stars, first, camera, t0, span)

    _prepare_folder(folder)
    truth = folder / TRUTH_FOLDER
    frame_rows: list[dict[str, Any]] = []
    files: list[Path] = []
    for i, (path, start) in enumerate(zip(paths, starts, strict=True)):
        variability = exposure_mean(events, stars.picid, start.timestamp(), spec.exptime)
        conditions = conditions_of(i, variability)
        exif = exif_cards(camera, (start - t0).total_seconds() / 3600.0, _rng(spec.seed, _EXIF, i))
        physics = physics_of(conditions, sensor_temperature(exif))
        electrons, star_pixels = expected_electrons(physics.scene)
        pixels = digitise(electrons, camera, _rng(spec.seed, _NOISE, i), spec.noise)
        del electrons
        header = observing_conditions(unit, start, spec.ra, spec.dec)
        if header.sun_altitude > -12 and not any("Sun" in w for w in warnings):
            warnings.append(
                f"the Sun is at {header.sun_altitude:.1f} deg at {start:%Y-%m-%dT%H:%M:%S} UTC: "
                "the sky model ignores twilight"
            )
        cards = unit_cards(path, unit, spec.exptime, spec.field_card, header, exif)
        target = folder / Path(path.object_name).name
        _write_atomically(target, fits_bytes(pixels, cards, written_time(start, spec.exptime)))
        del pixels
        write_table(
            frame_stars_table(stars, physics, star_pixels, camera),
            truth / "frames" / f"{path.image_start}.ecsv",
        )
        frame_rows.append(
            _frame_row(i, path, start, spec, physics, conditions, header, psf, hours[i], pointing)
        )
        files.append(target)
        if progress is not None:
            progress(i, target)

    write_table(stars_table(stars), truth / "stars.ecsv")
    write_table(events_table(events), truth / "events.ecsv")
    write_table(frames_table(frame_rows), truth / "frames.ecsv")
    write_table(hot_pixels_table(hot), truth / "hot_pixels.ecsv")
    parameters = _parameters(spec, pointing, psf, clouds, len(stars))
    (truth / "simulation.json").write_text(json.dumps(parameters, indent=2, sort_keys=True) + "\n")
    return SimulationResult(folder, files, truth, len(stars), events, warnings)


def read_frame(path: str | Path) -> tuple[fits.Header, np.ndarray]:
    """Read a simulated frame's header and pixels (uint16, native byte order).

    Parameters
    ----------
    path : str or Path
        A FITS file written by :func:`simulate_sequence`.

    Returns
    -------
    (astropy.io.fits.Header, numpy.ndarray)
        The header and the raw pixels in ADU.
    """
    with fits.open(path) as hdus:
        return hdus[0].header.copy(), np.asarray(hdus[0].data, dtype=np.uint16)
