"""``bin/simulate``: render a realistic sequence of raw frames, as a unit uploads them.

Writes ``<output>/<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.fits`` and the truth in
``.../<SEQSTART>/truth/`` (see :mod:`panoptes_network.simulation`), then prints the sequence
folder, ready for ``bin/upload FOLDER``.

Stars come from ``--catalog PATH`` (a local catalog file), else from the default local
catalog when it has been built (``bin/catalog build-tycho2``), else straight from the
astrometry.net Tycho-2 index files (a few seconds to read).

Without ``--start`` the sequence starts in the first night, from now, in which the field is
above 30 deg in an astronomically dark sky (Sun below -18 deg) *and* the Moon is below the
horizon or less than 30 % lit (:func:`.simulation.observing.bright_moon`), at the moment the
field is highest then (searching up to 30 days ahead, a lunation); without a pointing, at the
moment of that night with the Sun lowest, at the zenith. An explicit ``--start`` is used as
given, with a warning when a bright Moon is up then.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.simulation import (
    CameraModel,
    SequenceSpec,
    SimulationInputError,
    Transit,
    Unit,
)
from panoptes_network.simulation.fields import FIELDS, field_position
from panoptes_network.simulation.observing import (
    BRIGHT_MOON_FRACTION,
    bright_moon,
    darkest_time,
    observing_conditions,
)
from panoptes_network.simulation.sequence import simulate_sequence

__all__ = ["build_parser", "main", "parse_transit"]

_TIME_HELP = "ISO UTC time, e.g. 2024-09-12T06:30:00"


class _UsageError(ValueError):
    """A bad command-line value: (option, reason)."""

    def __init__(self, option: str, reason: str):
        self.option = option
        super().__init__(f"{option}: {reason}")


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _UsageError(option, f"{text!r} is not an {_TIME_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_transit(text: str, start: datetime, box: bool = False) -> Transit:
    """Parse ``PICID:DEPTH:DURATION_MIN:MIDTIME`` into a transit.

    Parameters
    ----------
    text : str
        ``DEPTH`` is a fraction (``0.01``) or a percentage (``1%``); ``DURATION_MIN`` is the
        first-to-last-contact time in minutes; ``MIDTIME`` an ISO UTC time or ``+MINUTES``
        after the sequence start.
    start : datetime
        The sequence start (for ``+MINUTES``).
    box : bool
        A box-shaped transit instead of a limb-darkened one.

    Returns
    -------
    Transit
        The transit.

    Raises
    ------
    ValueError
        Naming the bad part.
    """
    parts = text.split(":", 3)
    if len(parts) != 4:
        raise _UsageError("--inject-transit", f"{text!r} is not PICID:DEPTH:DURATION_MIN:MIDTIME")
    picid_text, depth_text, duration_text, mid_text = (p.strip() for p in parts)
    if not re.fullmatch(r"[0-9]+", picid_text):
        raise _UsageError("--inject-transit", f"PICID {picid_text!r} is not a positive integer")
    try:
        depth = float(depth_text[:-1]) / 100.0 if depth_text.endswith("%") else float(depth_text)
        duration = float(duration_text)
    except ValueError:
        raise _UsageError(
            "--inject-transit",
            f"depth {depth_text!r} or duration {duration_text!r} is not a number",
        ) from None
    if mid_text.startswith("+"):
        try:
            mid = start + timedelta(minutes=float(mid_text[1:]))
        except ValueError:
            raise _UsageError("--inject-transit", f"MIDTIME {mid_text!r} is not +MINUTES") from None
    else:
        mid = _parse_time(mid_text, "--inject-transit")
    try:
        if box:
            return Transit(int(picid_text), mid, depth, duration, limb_darkening=None)
        return Transit(int(picid_text), mid, depth, duration)
    except ValueError as exc:
        raise _UsageError("--inject-transit", str(exc)) from None


def _load_catalog(path: Path | None) -> Catalog:
    """Open the star catalog: ``path``, else the default local file, else the Tycho-2 index."""
    from panoptes_network.catalog.local_file import open_catalog

    if path is not None:
        try:
            return open_catalog(path)
        except (FileNotFoundError, ValueError) as exc:
            raise _UsageError("--catalog", str(exc)) from None
    try:
        return open_catalog()
    except (FileNotFoundError, ValueError):
        pass
    from panoptes_network.catalog.star_catalog import InMemoryCatalog
    from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars

    print("simulate: no local catalog file; reading the Tycho-2 index files", file=sys.stderr)
    try:
        return InMemoryCatalog(read_index_stars(find_index_files()))
    except FileNotFoundError as exc:
        raise _UsageError("--catalog", str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/simulate``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/simulate",
        description="Render a realistic sequence of raw PANOPTES frames and their truth.",
        epilog="Prints the sequence folder, ready for bin/upload FOLDER.",
    )
    unit = parser.add_argument_group("unit and camera")
    unit.add_argument("--unit", default="PAN001", help="unit id (default PAN001)")
    unit.add_argument("--latitude", type=float, default=19.54, help="site latitude, deg")
    unit.add_argument("--longitude", type=float, default=-155.58, help="site longitude, deg E")
    unit.add_argument("--elevation", type=float, default=3400.0, help="site elevation, m")
    unit.add_argument("--camera", default="14d3bd", help="camera id, 6 hex chars (14d3bd)")
    where = parser.add_argument_group("pointing and time")
    where.add_argument("--ra", type=float, help="mount RA, degrees")
    where.add_argument("--dec", type=float, help="mount Dec, degrees")
    where.add_argument(
        "--field", help=f"field name; without --ra/--dec one of: {', '.join(FIELDS)}"
    )
    where.add_argument(
        "--start",
        help=f"sequence start, {_TIME_HELP} (default: from now, the first night in which the "
        "field is above 30 deg with the Sun below -18 deg and the Moon below the horizon or "
        f"less than {100 * BRIGHT_MOON_FRACTION:.0f}%% lit, when the field is highest then, "
        "searching up to 30 days ahead; without a pointing, the darkest such moment, at the "
        "zenith; a given start with a bright Moon up gets a warning)",
    )
    where.add_argument("--exptime", type=float, default=120.0, help="exposure time, s (120)")
    where.add_argument("--count", type=int, default=5, help="number of frames (5)")
    where.add_argument("--interval", type=float, help="start-to-start time, s (exptime + 8)")
    sim = parser.add_argument_group("simulation")
    sim.add_argument("--seed", type=int, default=0, help="random seed (0): same seed, same bytes")
    sim.add_argument("--output", type=Path, default=Path("simulated"), help="output folder")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing sequence")
    sim.add_argument("--clouds", action="store_true", help="add passing clouds")
    sim.add_argument(
        "--inject-transit",
        action="append",
        default=[],
        metavar="PICID:DEPTH:DURATION_MIN:MIDTIME",
        help="inject a transit (repeatable); MIDTIME is ISO UTC or +MINUTES after the start",
    )
    sim.add_argument(
        "--transit-shape",
        choices=("limb-darkened", "box"),
        default="limb-darkened",
        help="shape of the injected transits",
    )
    sim.add_argument(
        "--demo-events",
        action="store_true",
        help="inject a 1%% transit into a V~9 star, a flare and a sinusoidal variable",
    )
    sim.add_argument("--catalog", type=Path, help="local catalog file (default: built one)")
    sim.add_argument("--quiet", action="store_true", help="print only the folder")
    return parser


_parser = build_parser


#: Days searched for a default start: a lunation, so a moonless night is always in it.
SEARCH_DAYS = 30


def _pointing_and_start(
    args: argparse.Namespace, unit: Unit, now: datetime | None = None
) -> tuple[float, float, str, datetime]:
    """Return the pointing (deg), field name and start (aware UTC); ``now`` starts the search."""
    now = now or datetime.now(timezone.utc)
    if (args.ra is None) != (args.dec is None):
        raise _UsageError("--ra/--dec", "give both, or neither (then --field or the zenith)")
    name = args.field or ""
    if args.ra is not None:
        ra, dec = args.ra, args.dec
    elif args.field:
        try:
            ra, dec = field_position(args.field)
        except KeyError as exc:
            raise _UsageError("--field", str(exc.args[0])) from None
    else:
        ra = dec = None
    if args.start is not None:
        start = _parse_time(args.start, "--start")
    else:
        found = darkest_time(
            unit, ra, dec, now, max_moon_fraction=BRIGHT_MOON_FRACTION, days=SEARCH_DAYS
        )
        if found is None and ra is None:
            # no astronomical night (high latitude in summer): the moment with the Sun lowest
            found = darkest_time(unit, None, None, now, sun_limit=90.0)
        if found is None:
            raise _UsageError(
                "--start",
                f"RA {ra:.3f} Dec {dec:+.3f} is never above 30 deg in a dark sky without a "
                f"bright Moon from {unit.unit_id} within the next {SEARCH_DAYS} days; pass "
                "--start or another field",
            )
        start = found
    if ra is None:
        conditions = observing_conditions(unit, start, 0.0, 0.0)
        ra = round((conditions.sidereal_time * 15.0) % 360.0, 3)
        dec = round(unit.latitude, 3)
        name = name or "Zenith"
    return float(ra), float(dec), name, start


def _bright_moon_warning(unit: Unit, start: datetime, ra: float, dec: float) -> str:
    """Return a warning when a bright Moon is up at ``start``, else an empty string."""
    conditions = observing_conditions(unit, start, ra, dec)
    moon = conditions.moon
    if not bright_moon(moon.altitude, moon.fraction):
        return ""
    return (
        f"at --start the Moon is {moon.fraction:.0%} lit and {moon.altitude:.0f} deg above the "
        f"horizon, {conditions.moon_separation:.0f} deg from the field: a bright sky; "
        "omit --start for a night without a bright Moon"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/simulate``; returns the exit status (2 for bad inputs)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    try:
        try:
            unit = Unit(args.unit, args.latitude, args.longitude, args.elevation)
        except ValueError as exc:
            raise _UsageError("--unit/--latitude/--longitude/--elevation", str(exc)) from None
        try:
            camera = CameraModel(args.camera)
        except ValueError as exc:
            raise _UsageError("--camera", str(exc)) from None
        ra, dec, name, start = _pointing_and_start(args, unit)
        box = args.transit_shape == "box"
        events = tuple(
            parse_transit(t, start.replace(microsecond=0), box) for t in args.inject_transit
        )
        spec = SequenceSpec(
            ra=ra,
            dec=dec,
            start=start,
            exptime=args.exptime,
            count=args.count,
            interval=args.interval,
            unit=unit,
            camera=camera,
            field_name=name,
            seed=args.seed,
            clouds=args.clouds,
            events=events,
            demo_events=args.demo_events,
        )
        spec.validate()
        if args.start is not None:
            warning = _bright_moon_warning(unit, start, ra, dec)
            if warning:
                say(f"simulate: warning: {warning}")
        catalog = _load_catalog(args.catalog)
        say(
            f"simulate: {spec.count} x {spec.exptime:g} s of RA {ra:.3f} Dec {dec:+.3f} "
            f"from {unit.unit_id} camera {camera.camera_id}, "
            f"starting {spec.start_utc:%Y-%m-%dT%H:%M:%S} UTC"
        )
        result = simulate_sequence(
            spec,
            catalog,
            args.output,
            overwrite=args.overwrite,
            progress=lambda i, path: say(f"  frame {i + 1}/{spec.count}: {path}"),
        )
    except (_UsageError, SimulationInputError) as exc:
        print(f"bin/simulate: error: {exc}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        say(f"simulate: warning: {warning}")
    for event in result.events:
        say(f"simulate: injected {event.summary}")
    say(f"simulate: {result.stars} catalog stars; truth in {result.truth}")
    say(f"simulate: upload with: bin/upload {result.folder}")
    print(result.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
