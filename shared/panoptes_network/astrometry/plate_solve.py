"""The plate-solve step: find where a recorded frame points, and record it.

For a message ``{"bucket", "name", "image_id"}`` of a ``.fits.fz`` in the images bucket
(record-image sends one for each newly recorded, unsolved frame), :func:`plate_solve`

1. skips the frame when its images document says ``solved: true`` (a redelivery never solves
   again), or when the last attempt failed on the very same file (same MD5);
2. reads and decompresses it, and renders its JPEG preview from the pixels unless one from
   the camera raw file is recorded (:mod:`panoptes_network.ingest.frame_preview`: a preview
   that cannot be made is recorded as ``preview_error_reason`` and never stops the frame);
   resolves the camera's constants (header, then the ``cameras`` registry:
   :mod:`panoptes_network.frames.camera_registry`; a frame whose camera lacks one gets
   ``status: "calibration_error"``); subtracts the camera's bias and the per-colour sky
   (sep) and sums each Bayer cell into 2 x 2 superpixels (:mod:`.bayer_background`),
   recording the sky per colour (``background``, ADU above the bias); counts the star-like
   sources (:mod:`.star_count`) and stops there when there are too few (a blank or
   cloud-covered frame); finds the frame's sources (sep, :mod:`.source_extraction`);
3. **tracks** the frame when its observation already has a solved frame
   (:mod:`.tracking_reference`: ``tracking/{sequence_id}``) and the mount has not moved more
   than :attr:`PlateSolver.max_mount_move` since: that frame's WCS, shifted and refitted
   (TAN-SIP) against the star catalog's stars matched to the sources (:mod:`.tracking`,
   ``solve_method: "tracked"``); otherwise, or when tracking fails, runs astrometry.net
   ``solve-field`` on those same sources (an xylist, :func:`.solve_field.solve_field_sources`:
   no extraction of its own) with the mount position (``RA-MNT``, ``DEC-MNT``) as a hint
   within :attr:`PlateSolver.hint_radius` degrees (``"solve-field"``), or blind when the
   header has none (``"blind"``); why a frame was not tracked is recorded
   (``solve_not_tracked_reason``: the first frame, a frame that arrived before any other was
   solved, a slew, a failed match, no catalog);
4. checks the solution is a celestial TAN WCS of the full-resolution pixels with the expected
   pixel scale (:mod:`.frame_wcs`);
5. writes the frame, pixels unchanged and the WCS in its header, to the solved bucket under
   the same name (:mod:`.solved_frame`), and checks what was stored;
6. sets on the images document ``ra_image``, ``dec_image`` (the centre pixel's sky position,
   degrees), ``solved: true``, ``status: "solved"``, ``pixel_scale`` (arcsec/pixel),
   ``rotation`` (degrees east of north of the image's up), ``solved_path``, ``solved_url``,
   ``solved_time``, ``solve_seconds``, ``solve_method``, ``solve_tracked_from``,
   ``solve_not_tracked_reason``, ``solve_matched_stars``, ``solve_rms_px`` (tracked), the
   solver's figures and the camera constants used
   (``camera_constants`` with their sources, ``camera_warnings``), and on its observation
   ``ra``/``dec`` when they are still null, with the sky index of the solved field
   (:func:`~panoptes_network.frames.sky_index.sky_fields`, ``sky_source: "solved"``, the
   field's radius being the angle from the centre to the farthest corner of the frame in
   the solved WCS, :func:`field_radius_of`), and moves the observation's listing in the
   sky cells key index (:data:`~panoptes_network.pipeline.schema.SKY_CELLS`) from the cells
   it held to the solved ones, all in one atomic batch guarded by the versions read (the
   first solved frame of an observation wins; a lost race re-reads and re-plans, and the
   cell documents always agree with the observation's ``sky_cells``); then makes the frame
   its observation's tracking reference (the last solved frame wins).

A frame that cannot be solved (no solution, a limit reached, blank or cloud-covered, a
solution that is not a celestial WCS) gets ``status: "solve_error"`` and
``solve_error_reason``; the file stays where it is and the step returns normally, so the
message is acknowledged. A file that cannot be read is also copied to quarantine. Faults of
storage, Firestore or the solver's installation raise, so Pub/Sub redelivers.

Memory: one frame at a time per process (:data:`ONE_FRAME_AT_A_TIME`): the raw uint16 pixels
(36 MB for 5208 x 3476), one colour plane in float32 at a time (18 MB, its sky subtracted in
place by sep), the float32 superpixel image (18 MB, freed once its sources are found) and the
recompressed output; the preview's float32 planes of the binned size (at most 32 MB) are
freed before the calibration.
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoptes_network.astrometry.bayer_background import (
    BayerBackground,
    calibrate_superpixels,
)
from panoptes_network.astrometry.frame_wcs import (
    FrameSolution,
    NotACelestialSolution,
    solution_on_frame,
    wcs_from_header,
)
from panoptes_network.astrometry.solve_field import (
    NoSolution,
    PointingHint,
    Runner,
    SolveFieldOptions,
    SolveFieldRun,
    run_process_group,
    solve_field_sources,
)
from panoptes_network.astrometry.solved_frame import (
    StoredFrame,
    UnreadableFrame,
    read_stored_frame,
    solved_frame_bytes,
)
from panoptes_network.astrometry.source_extraction import Sources, extract_sources
from panoptes_network.astrometry.star_count import count_star_like_sources
from panoptes_network.astrometry.tracking import (
    TrackedSolution,
    TrackingFailed,
    TrackingOptions,
    track_solution,
)
from panoptes_network.astrometry.tracking_reference import (
    SolveMethod,
    mount_position,
    reference_from_record,
    reference_record,
    why_not_tracked,
)
from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.camera_constants import MissingCameraConstant
from panoptes_network.frames.camera_registry import (
    calibration_error_fields,
    camera_constants_for,
    camera_pixel_scale,
    constants_fields,
    pixel_scale_fields,
)
from panoptes_network.frames.sky_index import (
    MAX_FIELD_RADIUS_DEG,
    SkySource,
    angular_distance,
    field_radius,
    sky_fields,
)
from panoptes_network.ingest.frame_preview import make_frame_preview
from panoptes_network.ingest.ledger import image_due_time
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.key_index import move_id
from panoptes_network.pipeline.ports import DocSnapshot, DocWrite, WriteConflict
from panoptes_network.pipeline.schema import (
    CAMERAS,
    FITS_CONTENT_TYPE,
    IMAGES,
    OBSERVATIONS,
    SKY_CELLS,
    TRACKING,
    ImageStatus,
)
from panoptes_network.pipeline.storage import quarantine as copy_to_quarantine
from panoptes_network.pipeline.storage import write_verified
from panoptes_network.pipeline.timing import StageTimer

__all__ = [
    "ONE_FRAME_AT_A_TIME",
    "SUPERPIXEL",
    "PlateSolver",
    "field_radius_of",
    "pointing_hint",
    "plate_solve",
]

#: Held while a frame's pixels are in memory: one full frame's working set per process.
ONE_FRAME_AT_A_TIME = threading.Lock()
#: Read-plan-commit rounds of the document update before giving up (the message is retried).
#: Raw pixels per superpixel along each axis.
SUPERPIXEL = 2


@dataclass(frozen=True)
class PlateSolver:
    """How frames are plate solved.

    Attributes
    ----------
    pixel_scale : (float, float) or None
        Pixel scale range of a raw frame, in arcsec per pixel, for every camera; None (the
        default) takes it from the camera: its registry scale (``pixel_scale_arcsec``) within
        ``scale_tolerance``, else ``unknown_scale_range``.
    scale_tolerance : float
        Fraction either side of a camera's registry pixel scale that a solution may have.
    unknown_scale_range : (float, float)
        The range searched for a camera whose scale is not known yet, arcsec per pixel: a
        DSLR sensor behind any lens from about 24 to 600 mm. Its first solution then gives
        the camera's scale (``cameras/{camera_id}``).
    hint_radius : float
        Search radius around the mount position, in degrees: pointing errors of several
        degrees (and crops whose centre is off the mount position) still solve.
    background_box : int or None
        Background box side, in pixels of one colour plane, for every camera; None (the
        default) sets it on the sky from ``background_box_arcmin``.
    background_box_arcmin : float
        Background box side on the sky, arcmin: 22 arcmin is 64 plane pixels (128 frame
        pixels) of a 10.3 arcsec/pixel camera. Converted with the camera's registry pixel
        scale, or the middle (geometric) of ``unknown_scale_range`` for a camera without one.
    min_stars : int
        Fewest star-like sources (8 sigma, 2 superpixels or more) a frame needs to be solved;
        fewer is recorded as a blank or cloud-covered frame at once.
    tracking : TrackingOptions
        How a frame is tracked from its observation's reference (:mod:`.tracking`).
    max_mount_move : float
        Largest move of the mount position from the reference frame's for which a frame is
        tracked, degrees; beyond it the frame goes to ``solve-field``.
    options : SolveFieldOptions
        ``solve-field`` program, CPU limit, timeout, downsampling.
    runner : Runner
        Runs ``solve-field`` (injectable: tests count or fake the runs).
    workdir : Path or None
        Parent of the temporary folders (the system's temporary folder by default).
    """

    pixel_scale: tuple[float, float] | None = None
    scale_tolerance: float = 0.1
    unknown_scale_range: tuple[float, float] = (2.0, 60.0)
    hint_radius: float = 10.0
    background_box: int | None = None
    background_box_arcmin: float = 22.0
    min_stars: int = 10
    tracking: TrackingOptions = field(default_factory=TrackingOptions)
    max_mount_move: float = 0.5
    options: SolveFieldOptions = field(default_factory=SolveFieldOptions)
    runner: Runner = run_process_group
    workdir: Path | None = None

    def scale_range(self, camera_scale: float | None) -> tuple[float, float]:
        """Return the pixel scales a frame's solution may have, arcsec per pixel.

        Parameters
        ----------
        camera_scale : float or None
            The camera's registry pixel scale, arcsec per pixel (None: not known).

        Returns
        -------
        (float, float)
            ``pixel_scale`` when set; else the camera's scale within ``scale_tolerance``;
            else ``unknown_scale_range``.
        """
        if self.pixel_scale is not None:
            return self.pixel_scale
        if camera_scale is not None:
            return camera_scale * (1 - self.scale_tolerance), camera_scale * (
                1 + self.scale_tolerance
            )
        return self.unknown_scale_range

    def background_box_for(self, camera_scale: float | None) -> int:
        """Return the background box side, in pixels of one colour plane (at least 16).

        Parameters
        ----------
        camera_scale : float or None
            The camera's registry pixel scale, arcsec per frame pixel (None: not known).

        Returns
        -------
        int
            ``background_box`` when set; else ``background_box_arcmin`` on the sky at the
            camera's scale (a plane pixel is two frame pixels).
        """
        if self.background_box is not None:
            return self.background_box
        if camera_scale is None:
            low, high = self.unknown_scale_range
            camera_scale = math.sqrt(low * high)
        return max(16, round(self.background_box_arcmin * 60.0 / (2.0 * camera_scale)))


def pointing_hint(header: Mapping[str, Any], radius: float) -> PointingHint | None:
    """Return the mount position of a frame as a search hint, when the header has one.

    Parameters
    ----------
    header : Mapping
        The frame's header (``RA-MNT`` and ``DEC-MNT`` in degrees; older frames have empty
        strings where a value was unknown).
    radius : float
        Search radius, in degrees.

    Returns
    -------
    PointingHint or None
        None when either card is missing, empty, not a number or out of range: the frame is
        then solved blind.
    """
    mount = mount_position(header)
    return None if mount is None else PointingHint(*mount, radius)


def field_radius_of(solution: FrameSolution) -> float:
    """Return the angle from a solved frame's centre to its farthest corner, in degrees.

    Parameters
    ----------
    solution : FrameSolution
        The frame's solution (its WCS, distortion included, and its shape).

    Returns
    -------
    float
        The largest angle from ``(ra_centre, dec_centre)`` to the outer corners of the
        corner pixels, degrees (at most
        :data:`~panoptes_network.frames.sky_index.MAX_FIELD_RADIUS_DEG`); the gnomonic
        half diagonal at the solved pixel scale should a corner not map to the sky.
    """
    rows, columns = solution.shape
    ra, dec = solution.wcs.all_pix2world(
        [-0.5, columns - 0.5, -0.5, columns - 0.5], [-0.5, -0.5, rows - 0.5, rows - 0.5], 0
    )
    corners = [
        angular_distance(solution.ra_centre, solution.dec_centre, float(a), float(d))
        for a, d in zip(ra, dec, strict=True)
    ]
    if not all(math.isfinite(c) for c in corners):
        return min(field_radius(solution.shape, solution.pixel_scale), MAX_FIELD_RADIUS_DEG)
    return min(max(corners), MAX_FIELD_RADIUS_DEG)


def _history(ctx: ChainContext, found: _Found, bias: float) -> list[str]:
    when = ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    extraction = (
        f"from sources found on 2x2 superpixels (bias {bias:g} ADU and per-colour sky "
        "subtracted), in full-resolution pixels."
    )
    if found.tracked is not None:
        tracked = found.tracked
        return [
            f"Plate solved {when} by panoptes-network {ctx.service}:",
            f"tracked from {found.tracked_from}: {tracked.matched} catalog stars matched,",
            f"rms {tracked.rms:.3f} px, WCS fitted {extraction}",
        ]
    run = found.run
    assert run is not None
    odds = f"{run.log_odds:.1f}" if run.log_odds is not None else "unknown"
    return [
        f"Plate solved {when} by panoptes-network {ctx.service}:",
        f"astrometry.net {run.version} solve-field, index {run.index_id}, log-odds {odds},",
        f"{run.matched_stars} stars matched, {extraction}",
    ]


@dataclass(frozen=True)
class _Found:
    """A frame's solution and how it was found."""

    solution: FrameSolution
    method: str
    run: SolveFieldRun | None = None
    tracked: TrackedSolution | None = None
    tracked_from: str | None = None
    why_not_tracked: str | None = None

    def fields(self) -> dict[str, Any]:
        """Return the images document's fields that say how the frame was solved."""
        tracked = self.tracked
        return {
            "solve_method": self.method,
            "solve_tracked_from": self.tracked_from,
            "solve_not_tracked_reason": self.why_not_tracked,
            "solve_matched_stars": (
                tracked.matched if tracked is not None else getattr(self.run, "matched_stars", None)
            ),
            "solve_rms_px": None if tracked is None else round(tracked.rms, 4),
            "solve_index": getattr(self.run, "index_id", None),
        }


def _track(
    ctx: ChainContext,
    path: ImagePath,
    header: Mapping[str, Any],
    sources: Sources,
    shape: tuple[int, int],
    solver: PlateSolver,
    catalog: Catalog | None,
    scales: tuple[float, float],
) -> _Found | str:
    """Track the frame from its observation's reference; the reason when it cannot be."""
    assert ctx.documents is not None
    if catalog is None:
        return "no star catalog to track with"
    reference = reference_from_record(ctx.documents.get(TRACKING, path.sequence_id))
    reason = why_not_tracked(reference, header, solver.max_mount_move)
    if reason is not None:
        return reason
    assert reference is not None
    try:
        tracked = track_solution(
            reference.wcs,
            sources,
            catalog,
            shape,
            scale_range=scales,
            options=solver.tracking,
        )
    except TrackingFailed as exc:
        return f"tracking from {reference.image_id} failed: {exc.reason}"
    return _Found(
        tracked.solution, SolveMethod.TRACKED, tracked=tracked, tracked_from=reference.image_id
    )


def _write_solved(
    ctx: ChainContext,
    obj: StoredObject,
    frame: StoredFrame,
    solution: FrameSolution,
    history: list[str],
) -> StoredObject:
    data = solved_frame_bytes(frame, solution.header(), history)
    target = StoredObject(ctx.settings.solved_bucket, obj.name)
    write_verified(
        ctx,
        target,
        data,
        content_type=FITS_CONTENT_TYPE,
        metadata={"source": obj.uri, "solver": f"astrometry.net ({ctx.service})"},
    )
    return target


def _update_documents(
    ctx: ChainContext,
    path: ImagePath,
    image_fields: dict[str, Any],
    observation_fields: dict[str, Any] | None,
) -> bool:
    """Commit the image's fields (and the observation's ra/dec while null), atomically.

    When the observation's fields are written and hold a sky index (``sky_cells``), the
    same batch moves the observation's sequence id in the sky cells key index from the
    cells its document held (as read) to the new ones. Returns False, writing nothing, when
    the image is found solved already: a concurrent delivery of the same frame got there
    first, and its solution stands.
    """
    assert ctx.documents is not None
    image_key, observation_key = (IMAGES, path.image_id), (OBSERVATIONS, path.sequence_id)

    def plan() -> tuple[list[DocWrite], bool]:
        snaps = ctx.documents.read([image_key, observation_key])
        image: DocSnapshot = snaps[image_key]
        if not image.exists:
            raise WriteConflict(f"images/{path.image_id} disappeared while it was being solved")
        if (image.fields or {}).get("solved"):
            return [], False
        writes = [
            DocWrite(
                IMAGES,
                path.image_id,
                image_fields,
                must_exist=True,
                expected_version=image.version,
            )
        ]
        observation = snaps[observation_key]
        if (
            observation_fields is not None
            and observation.exists
            and (observation.fields or {}).get("ra") is None
        ):
            writes.append(
                DocWrite(
                    OBSERVATIONS,
                    path.sequence_id,
                    observation_fields,
                    must_exist=True,
                    expected_version=observation.version,
                )
            )
            if "sky_cells" in observation_fields:
                held = (observation.fields or {}).get("sky_cells")
                writes += move_id(
                    SKY_CELLS,
                    path.sequence_id,
                    held if isinstance(held, list) else [],
                    observation_fields["sky_cells"],
                )
        return writes, True

    return commit_with_retry(ctx.documents, plan, what=f"images/{path.image_id}")


def _record_failure(
    ctx: ChainContext,
    obj: StoredObject,
    path: ImagePath,
    reason: str,
    md5: str | None,
    background: BayerBackground | None = None,
    sources_detected: int | None = None,
    **detail: Any,
) -> StepResult:
    fields: dict[str, Any] = {
        "status": ImageStatus.SOLVE_ERROR,
        "due_time": None,
        "solved": False,
        "solve_error_reason": reason[:1024],
        "solve_input_md5": md5,
        "updated_time": ctx.now(),
    }
    if background is not None:
        fields["background"] = background.to_dict()
    if sources_detected is not None:
        fields["sources_detected"] = sources_detected
        detail["sources_detected"] = sources_detected
    written = _update_documents(ctx, path, fields, None)
    action = "solve_error" if written else "skipped"
    return StepResult(
        action,
        {"object": obj.uri, "image_id": path.image_id, "reason": reason, **detail},
    )


def plate_solve(
    ctx: ChainContext,
    obj: StoredObject,
    solver: PlateSolver | None = None,
    catalog: Catalog | None = None,
) -> StepResult:
    """Plate solve a recorded frame, store it with its WCS and record where it points.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The ``.fits.fz`` frame in the images bucket.
    solver : PlateSolver, optional
        Scale, hint radius, limits, tracking and the ``solve-field`` runner.
    catalog : Catalog, optional
        The star catalog frames are tracked against; without one every frame goes to
        ``solve-field``.

    Returns
    -------
    StepResult
        ``solved`` (centre, scale, stage timings), ``solve_error`` (with the reason),
        ``skipped`` (already solved, already failed on this file, or not recorded) or
        ``quarantined`` (unreadable file).

    Raises
    ------
    SolveFieldFailed
        If ``solve-field`` cannot run (a deployment fault: retried).
    Exception
        Storage and Firestore faults, so that the message is redelivered.
    """
    if ctx.documents is None:
        raise ValueError("plate_solve needs a document store")
    refused = refuse_foreign_bucket(ctx, obj, "plate-solve")
    if refused is not None:
        return refused
    solver = solver or PlateSolver()
    try:
        path = ImagePath.parse(obj.name)
    except InvalidPathError as exc:
        return copy_to_quarantine(ctx, obj, exc.reason)
    # The checks run under the lock too: a duplicate delivery that waited for the first
    # one's solve then finds the image solved and does not solve it again.
    with ONE_FRAME_AT_A_TIME:
        return _solve_if_needed(ctx, obj, path, solver, catalog)


def _solve_if_needed(
    ctx: ChainContext,
    obj: StoredObject,
    path: ImagePath,
    solver: PlateSolver,
    catalog: Catalog | None,
) -> StepResult:
    assert ctx.documents is not None
    base = {"object": obj.uri, "image_id": path.image_id}
    image = ctx.documents.get(IMAGES, path.image_id)
    if image is None:
        why = "no images document: record-image has not recorded this frame"
        return StepResult("skipped", {**base, "why": why})
    if image.get("solved"):
        return StepResult("skipped", {**base, "why": "already solved"})
    info = ctx.store.stat(obj.bucket, obj.name)
    if info is None:
        return _record_failure(ctx, obj, path, f"{obj.uri} does not exist", None)
    if image.get("status") == ImageStatus.SOLVE_ERROR and (
        info.md5_hash is not None and image.get("solve_input_md5") == info.md5_hash
    ):
        return StepResult("skipped", {**base, "why": "already failed on this very file"})
    return _solve_one(ctx, obj, path, info.md5_hash, solver, catalog)


def _solve_one(
    ctx: ChainContext,
    obj: StoredObject,
    path: ImagePath,
    md5: str | None,
    solver: PlateSolver,
    catalog: Catalog | None,
) -> StepResult:
    stages = StageTimer()
    try:
        data = ctx.store.read(obj.bucket, obj.name)
    except ObjectNotFoundError:
        return _record_failure(ctx, obj, path, f"{obj.uri} does not exist", md5)
    try:
        frame = read_stored_frame(data, obj.uri)
    except UnreadableFrame as exc:
        _record_failure(ctx, obj, path, exc.reason, md5)
        return copy_to_quarantine(ctx, obj, exc.reason)
    del data
    stages.done("read")
    # The one step that holds every recorded frame's pixels renders its preview (never raises).
    preview = make_frame_preview(ctx, obj, path, frame.pixels, frame.header)
    stages.done("preview")
    try:
        # The camera's registry entry, read once: its constants and its pixel scale.
        entry = ctx.documents.get(CAMERAS, path.camera_id) or {}
        constants = camera_constants_for(
            ctx.documents, path.camera_id, frame.header, registry=entry
        )
    except MissingCameraConstant as exc:
        assert ctx.documents is not None
        ctx.documents.merge(IMAGES, path.image_id, calibration_error_fields(exc))
        return StepResult(
            ImageStatus.CALIBRATION_ERROR,
            {"object": obj.uri, "image_id": path.image_id, "reason": str(exc)},
        )
    bias = float(constants["bias_adu"])
    camera_scale, scale_source = camera_pixel_scale(entry, path.camera_id)
    try:
        calibrated = calibrate_superpixels(
            frame.pixels,
            bias=bias,
            bayer_pattern=str(constants["bayer_pattern"]),
            box_size=solver.background_box_for(camera_scale),
        )
    except ValueError as exc:
        return _record_failure(ctx, obj, path, f"cannot calibrate the frame: {exc}", md5)
    stars = count_star_like_sources(calibrated.image, calibrated.background.superpixel_rms)
    stages.done("calibrate")
    if stars < solver.min_stars:
        reason = (
            f"only {stars} star-like sources above 8 sigma of the sky noise, fewer than the "
            f"{solver.min_stars} a solve needs: a blank, cloud-covered or badly focused frame "
            "(not sent to astrometry.net)"
        )
        return _record_failure(
            ctx, obj, path, reason, md5, calibrated.background, sources_detected=stars
        )
    sources = extract_sources(calibrated.image, calibrated.background.superpixel_rms)
    background = calibrated.background
    del calibrated
    stages.done("extract")
    shape = frame.pixels.shape
    hint = pointing_hint(frame.header, solver.hint_radius)
    scales = solver.scale_range(camera_scale)
    found = _track(ctx, path, frame.header, sources, shape, solver, catalog, scales)
    if isinstance(found, str):
        why = found
        with tempfile.TemporaryDirectory(prefix="plate-solve-", dir=solver.workdir) as folder:
            try:
                run = solve_field_sources(
                    sources,
                    shape,
                    Path(folder),
                    scale_range=scales,
                    hint=hint,
                    options=solver.options,
                    runner=solver.runner,
                )
            except NoSolution as exc:
                stages.done("solve")
                return _record_failure(
                    ctx,
                    obj,
                    path,
                    exc.reason,
                    md5,
                    background,
                    sources_detected=stars,
                    solve_not_tracked_reason=why,
                    **stages.seconds,
                )
        try:
            solution = solution_on_frame(wcs_from_header(run.header), shape, scales)
        except (NotACelestialSolution, ValueError) as exc:
            reason = getattr(exc, "reason", None) or f"the solution cannot be read: {exc}"
            return _record_failure(
                ctx, obj, path, reason, md5, background, sources_detected=stars, **stages.seconds
            )
        method = SolveMethod.BLIND if hint is None else SolveMethod.SOLVE_FIELD
        found = _Found(solution, method, run=run, why_not_tracked=why)
    solution = found.solution
    stages.done("solve")
    target = _write_solved(ctx, obj, frame, solution, _history(ctx, found, bias))
    reference = reference_record(path.image_id, solution, frame.header)
    del frame
    stages.done("write")
    now = ctx.now()
    image_fields = {
        "status": ImageStatus.SOLVED,
        "due_time": image_due_time(ctx),
        "solved": True,
        "ra_image": solution.ra_centre,
        "dec_image": solution.dec_centre,
        "pixel_scale": round(solution.pixel_scale, 5),
        "rotation": round(solution.rotation, 4),
        "solved_path": target.name,
        "solved_url": ctx.settings.public_url(target.bucket, target.name),
        "solved_time": now,
        "solve_seconds": round(stages.total(), 3),
        "solve_blind": found.method == SolveMethod.BLIND,
        **found.fields(),
        "solve_scale_range": [round(scales[0], 4), round(scales[1], 4)],
        "solve_scale_source": (
            "the solver's setting" if solver.pixel_scale is not None else scale_source
        ),
        "sources_detected": stars,
        "solve_input_md5": md5,
        "solve_error_reason": None,
        "background": background.to_dict(),
        **constants_fields(constants),
        "updated_time": now,
    }
    observation_fields = {
        "ra": solution.ra_centre,
        "dec": solution.dec_centre,
        **sky_fields(
            solution.ra_centre,
            solution.dec_centre,
            SkySource.SOLVED,
            radius=field_radius_of(solution),
        ),
    }
    written = _update_documents(ctx, path, image_fields, observation_fields)
    if written:
        # The observation's next frames are tracked from this one (last solved wins).
        ctx.documents.merge(TRACKING, path.sequence_id, {**reference, "updated_time": now})
        if camera_scale is None and solver.pixel_scale is None:
            # The camera's first solution gives its scale: its next frames search near it.
            ctx.documents.merge(
                CAMERAS, path.camera_id, pixel_scale_fields(solution.pixel_scale, path.image_id)
            )
        ctx.bus.publish(ctx.settings.measure_topic, target.message(image_id=path.image_id))
    stages.done("record")
    return StepResult(
        "solved" if written else "skipped",
        {
            "object": obj.uri,
            "image_id": path.image_id,
            "to": target.uri,
            "ra_image": round(solution.ra_centre, 6),
            "dec_image": round(solution.dec_centre, 6),
            "pixel_scale": round(solution.pixel_scale, 4),
            "rotation": round(solution.rotation, 3),
            "method": found.method,
            **({} if found.why_not_tracked is None else {"not_tracked": found.why_not_tracked}),
            "sources_detected": stars,
            "sources_extracted": len(sources),
            "preview": preview["action"],
            **({} if written else {"why": "solved by another delivery meanwhile"}),
            **stages.seconds,
        },
    )
