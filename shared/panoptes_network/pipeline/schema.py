"""The names the network stores things under: collections, statuses and content types.

Every Firestore collection, every value of a ``status`` field and every content type of a
stored object is defined here once; steps, tools and tests use these names instead of string
literals.
"""

from __future__ import annotations

__all__ = [
    "CALIBRATIONS",
    "TRACKING",
    "CAMERAS",
    "CalibrationStatus",
    "FINAL_UPLOAD_STATES",
    "FLAGS",
    "FlagTarget",
    "FITS_CONTENT_TYPE",
    "IMAGES",
    "JPEG_CONTENT_TYPE",
    "LIGHTCURVES",
    "OBSERVATIONS",
    "OBSERVATION_FRAMES",
    "OBSERVATION_RUNS",
    "PARQUET_CONTENT_TYPE",
    "PLACEHOLDER_STATUSES",
    "POINT_THRESHOLDS",
    "PROCESSED_OBSERVATIONS",
    "SKY_CELLS",
    "STARS",
    "STAR_LIGHTCURVES",
    "STAR_SUMS",
    "ANALYSIS_COVERAGE",
    "ANALYSIS_COMPLETENESS",
    "DETECTIONS",
    "UNITS",
    "UPLOADS",
    "ImageStatus",
    "MasterStatus",
    "PreviewSource",
    "UploadState",
    "ObservationStatus",
    "RunStatus",
]

#: One document per unit (id: the unit id, e.g. ``PAN001``).
UNITS = "units"
#: One document per observation (id: the sequence id ``<unit>_<camera>_<start>``).
OBSERVATIONS = "observations"
#: One document per frame (id: the image id ``<unit>_<camera>_<time>``).
IMAGES = "images"
#: The ledger: one document per upload (object name and generation), to its final state.
UPLOADS = "uploads"
#: One document per build-lightcurve processing run of an observation.
PROCESSED_OBSERVATIONS = "processed_observations"
#: One document per star of a processing run.
LIGHTCURVES = "lightcurves"
#: Per unit and ISO week: frames, new observations and exposure minutes, kept exact in the
#: batch that records each frame (document id ``<unit_id>_<YYYY>-W<WW>``).
WEEKLY_STATS = "weekly_stats"
#: The camera registry: one document per camera (id: the camera id, e.g. ``14d3bd``) with
#: its constants where the frames' headers lack them (``bias_adu``, ``saturation_adu``,
#: ``gain_e_per_adu``, ``read_noise_e``, ``bayer_pattern``; each may have a
#: ``<name>_source``), see :mod:`panoptes_network.frames.camera_constants`.
CAMERAS = "cameras"
#: Calibration masters: one document per dark, bias or flat master of a camera, valid or
#: refused (id: the master id ``<bin key>_<first frame start>``, e.g.
#: ``14d3bd_dark_120s_10C_20160909T081152``), see
#: :mod:`panoptes_network.calibration.build_masters`. Fields: those of
#: :meth:`panoptes_network.calibration.master_record.Master.to_record` (``kind``,
#: ``camera_id``, ``status``, ``reason``, ``time``, bins, ``frames_used``, ``rejection``,
#: ``quality``, ``quality_figure``), and where the master's FITS file is (``fits_path`` in
#: the calibrations bucket, ``fits_md5``), the frames it was built from (``input_frames``,
#: ``input_key``), its ``group_key`` and ``built_time``; a flat's ``dark_note`` (which dark
#: or bias was subtracted, or why none); ``superseded_by`` and ``superseded_time`` once a
#: later build of the same group replaces it.
CALIBRATIONS = "calibrations"
#: The solution each observation's next frames are tracked from (id: the sequence id):
#: ``image_id``, ``wcs`` (the WCS cards of that solved frame's full-resolution pixels, a map
#: of keyword to value), ``mount_ra``/``mount_dec`` (degrees) and ``updated_time``; written by
#: plate-solve for every solved frame (the last one wins), see
#: :mod:`panoptes_network.astrometry.tracking_reference`.
TRACKING = "tracking"
#: The analysis' per-star statistics (id: the PICID as text), merged over every run of every
#: unit (:mod:`panoptes_network.analysis.star_documents`): counts, per-colour statistics, the
#: headline figures, ``analysis`` and ``analysis_hash``, ``points_at_least``, ``sky_cells``.
STARS = "stars"
#: Point counts a ``stars`` document's ``points_at_least`` lists when the star reaches them
#: (so "the most variable stars with more than 500 points" is one indexed query).
POINT_THRESHOLDS: tuple[int, ...] = (10, 100, 500, 1000, 5000, 10000, 50000)
#: The exact sums each ``stars`` document is computed from, and the runs merged (id: the
#: PICID as text; :meth:`panoptes_network.analysis.star_sums.StarSums.to_record`).
STAR_SUMS = "star_sums"
#: Coverage histograms of the runs analysed (id: ``<analysis_hash>_<sequence_id>_<run_id>``;
#: :meth:`panoptes_network.analysis.coverage.Coverage.to_record` and the run's names).
ANALYSIS_COVERAGE = "analysis_coverage"
#: Injection-recovery counts of the runs analysed (id: ``<analysis_hash>_<sequence_id>_<run_id>``;
#: :meth:`panoptes_network.analysis.completeness.Completeness.to_record` and the run's names).
ANALYSIS_COMPLETENESS = "analysis_completeness"
#: Transit-like dips and flares found by the analysis (id:
#: ``<analysis_hash>_<picid>_<search>_<POSIX seconds of the event>``, injected ones end in
#: ``_injected``); fields in :mod:`panoptes_network.analysis.detection_documents`. Injected
#: events' detections (``injected: true``) are left out of every query unless asked for.
DETECTIONS = "detections"
#: People's flags on bad data, written by the Data Explorer, honoured by build-lightcurve
#: (random document ids). Fields: ``target`` (``"observation"``, ``"image"`` or
#: ``"points"``), ``sequence_id`` (always), ``image_id`` (an image flag), ``picid`` (int) and
#: ``times`` (the points' mid-exposure times, POSIX seconds, as in the light-curve rows) for a
#: points flag, ``run_id`` (the run whose plot the points were picked on, optional),
#: ``reason``, ``user_uid``, ``user_email``, ``created_time``, and ``removed`` (bool) with
#: ``removed_by`` and ``removed_time`` once an admin removes it (the document is kept).
FLAGS = "flags"

# Key indexes (:mod:`.key_index`): each document lists, in its ``ids`` array, the ids of
# the documents a page needs, so the page reads them by key instead of by a query. Written
# in the same batch as what they list.

#: Per observation (id: the sequence id): the image ids of its recorded frames.
OBSERVATION_FRAMES = "observation_frames"
#: Per observation (id: the sequence id): the run ids of its processing runs.
OBSERVATION_RUNS = "observation_runs"
#: Per star (id: the PICID as text): the ids of its light curves (``<PICID>_<run_id>``).
STAR_LIGHTCURVES = "star_lightcurves"
#: Per HEALPix cell of the sky index (id: the NUNIQ number as text): the sequence ids of the
#: observations whose ``sky_cells`` hold it.
SKY_CELLS = "sky_cells"


class FlagTarget:
    """Values of ``flags.target``."""

    OBSERVATION = "observation"
    IMAGE = "image"
    POINTS = "points"
    ALL = (OBSERVATION, IMAGE, POINTS)


class ImageStatus:
    """Values of ``images.status``."""

    UPLOADED = "uploaded"
    SOLVED = "solved"
    SOLVE_ERROR = "solve_error"
    MEASURED = "measured"
    #: The solved frame could not be measured (``measure_error_reason`` says why).
    MEASURE_ERROR = "measure_error"
    #: A camera constant (bias, saturation, gain, read noise, Bayer pattern) is in neither the
    #: frame's header nor the camera registry (``calibration_error_reason`` names it).
    CALIBRATION_ERROR = "calibration_error"
    #: A dark, bias or flat (``frame_type`` says which, ``frame_type_reason`` why): recorded
    #: and kept for the calibration masters, neither plate-solved nor measured.
    CALIBRATION_FRAME = "calibration_frame"
    ERROR = "error"
    #: Only the camera raw file has arrived: products made, the FITS frame not recorded yet.
    RAW_RECEIVED = "raw_received"


#: Statuses of an image doc that holds no recorded frame: recording the frame replaces them
#: and moves the counters.
PLACEHOLDER_STATUSES = frozenset({ImageStatus.ERROR, ImageStatus.RAW_RECEIVED})


class MasterStatus:
    """Values of ``calibrations.status``.

    The first two are :data:`~panoptes_network.calibration.master_record.STATUS_VALID` and
    :data:`~panoptes_network.calibration.master_record.STATUS_REFUSED`.
    """

    #: The master can be applied; its FITS file is in the calibrations bucket.
    VALID = "valid"
    #: The sequence was unusable (``reason`` says why); no file. Frames fall back to the
    #: nearest valid master and say so.
    REFUSED = "refused"
    #: Replaced by a master of the same frames and more (``superseded_by`` names it); never
    #: applied, never a reason to fall back.
    SUPERSEDED = "superseded"


class CalibrationStatus:
    """Values of ``images.calibration.status`` (and of a sources table's ``calibration``).

    What measure-sources applied to the frame before measuring it (the ``calibration`` map
    names the masters and, in its notes, why one was not applied).
    """

    #: A dark (or bias) master and a flat master were applied.
    CALIBRATED = "calibrated"
    #: Only one of them was.
    PARTLY_CALIBRATED = "partly_calibrated"
    #: No master was applied: the raw frame was measured.
    UNCALIBRATED = "uncalibrated"


class PreviewSource:
    """Values of ``images.preview_source``: what the frame's JPEG preview was made from.

    One preview per image, at the same name in the preview bucket; a preview made from the
    camera raw file always takes precedence over one rendered from the FITS frame.
    """

    #: The camera raw file (make-rgb-fits): its embedded JPEG, or rendered from its mosaic.
    RAW = "raw"
    #: Rendered from the FITS frame's Bayer mosaic (plate-solve), when no raw file came.
    FITS = "fits"


class UploadState:
    """Values of ``uploads.state``: where an upload is on its way to a final state."""

    #: The notification arrived; nothing is archived yet.
    RECEIVED = "received"
    #: The archive holds a verified copy; the upload is validated and routed next.
    ARCHIVED = "archived"
    #: Handed to the step that makes its product (compress-fits, record-image, make-rgb-fits).
    ROUTED = "routed"
    #: Compressed and stored in the images bucket; record-image is next.
    COMPRESSED = "compressed"
    #: Final: recorded (frames) or its products stored (previews, movies, raw files).
    RECORDED = "recorded"
    #: Final: bad input, copied to quarantine with ``reason``.
    QUARANTINED = "quarantined"
    #: Final: the reconciler gave up after its attempts (``reason`` says why).
    FAILED = "failed"
    #: Final: archived, but a later upload of the same name is what the documents describe.
    SUPERSEDED = "superseded"


#: States an upload ends in; the reconciler never looks at it again.
FINAL_UPLOAD_STATES = frozenset(
    {UploadState.RECORDED, UploadState.QUARANTINED, UploadState.FAILED, UploadState.SUPERSEDED}
)


class ObservationStatus:
    """Values of ``observations.status``."""

    RECEIVING_FILES = "receiving_files"


class RunStatus:
    """Values of ``processed_observations.status``: the state of a processing run."""

    #: Created before anything else of the run is written.
    RUNNING = "running"
    #: Set last, when the data file and every document of the run are stored.
    DONE = "done"


#: FITS frames, compressed or not.
FITS_CONTENT_TYPE = "application/fits"
#: Parquet tables: per-image sources, light-curve data of a run.
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
#: JPEG previews.
JPEG_CONTENT_TYPE = "image/jpeg"
