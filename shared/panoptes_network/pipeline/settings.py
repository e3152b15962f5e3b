"""Settings of the network, built once per process and passed explicitly.

Every value has a default that matches ``infra/resources.yaml``; environment variables
``PANOPTES_<FIELD>`` override them (for a test project or a second deployment). This is the
only place that reads the network's variables: a value that does not parse raises
:class:`SettingsError`, which names the variable and what it expects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["SERVICE_CALLERS", "STEP_INPUTS", "Settings", "SettingsError"]

_ENV_PREFIX = "PANOPTES_"


class SettingsError(ValueError):
    """A setting whose value does not parse; the message names the variable.

    Parameters
    ----------
    variable : str
        The environment variable, e.g. ``PANOPTES_MAX_HEADER_BYTES``.
    value : str
        Its value.
    expected : str
        What it should be.
    """

    def __init__(self, variable: str, value: str, expected: str):
        self.variable = variable
        super().__init__(f"{variable}={value!r} is not {expected}")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _parse(variable: str, raw: str, kind: object) -> object:
    """Convert the text of a variable to the type of its field."""
    text = raw.strip()
    if kind in ("int", int):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(variable, raw, "a whole number (e.g. 288000)") from None
    if kind in ("float", float):
        try:
            return float(text)
        except ValueError:
            raise SettingsError(variable, raw, "a number (e.g. 30)") from None
    if kind in ("bool", bool):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise SettingsError(variable, raw, f"one of {', '.join(_TRUE + _FALSE[:-1])}")
    return raw


#: The buckets each step that takes object messages may read, as Settings field names.
#: Each ``services/<name>/service.yaml`` declares the same (``inputs``); a test keeps them
#: equal. A message naming any other bucket is refused and left untouched.
STEP_INPUTS: dict[str, tuple[str, ...]] = {
    "raw-file-uploaded": ("incoming_bucket", "archive_bucket"),
    "compress-fits": ("archive_bucket", "raw_fits_bucket"),
    "record-image": ("images_bucket",),
    "make-rgb-fits": ("archive_bucket",),
    "plate-solve": ("images_bucket",),
    "measure-sources": ("solved_bucket",),
}


#: Who may call each private service: the service accounts of ``ACCOUNTS``, by role. The
#: services not listed (lookup-field, get-fits-header) are public. ``infra/resources.yaml``
#: declares the same per service (``callers``); a test keeps them equal.
SERVICE_CALLERS: dict[str, tuple[str, ...]] = {
    "raw-file-uploaded": ("push",),
    "compress-fits": ("push",),
    "record-image": ("push",),
    "make-rgb-fits": ("push",),
    "plate-solve": ("push",),
    "measure-sources": ("push",),
    "build-lightcurve": ("push",),
    "analyse-run": ("push",),
    "lightcurve-requests": ("scheduler",),
    "raw-fits-requests": ("scheduler",),
    "reconcile": ("scheduler",),
    "build-calibrations": ("scheduler",),
}


@dataclass(frozen=True)
class Settings:
    """Names and limits shared by the services.

    Attributes
    ----------
    project_id : str
        Google Cloud project (``GOOGLE_CLOUD_PROJECT``); ``demo-panoptes`` locally.
    incoming_bucket, archive_bucket, images_bucket, quarantine_bucket, jpg_bucket, mp4_bucket : str
        Bucket names (``PANOPTES_INCOMING_BUCKET`` and so on).
    solved_bucket : str
        Plate-solved frames.
    sources_bucket : str
        Per-image photometry tables (parquet).
    lightcurves_bucket : str
        Light-curve data of processing runs (parquet, one file per run).
    calibrations_bucket : str
        Calibration masters (FITS, ``<CAMERA>/<KIND>/<MASTER_ID>.fits``), built from the
        units' darks and flats (``bin/calibration-masters``) and applied by measure-sources.
    rgb_bucket, preview_bucket : str
        Colour products of camera raw files: RGB FITS and JPEG previews.
    raw_fits_bucket : str
        Bayer FITS frames converted from raw files, waiting to enter the chain.
    upload_topic : str
        Topic of raw-file-uploaded: the incoming bucket's notifications, and the
        reconciler's re-queued uploads.
    compress_topic, record_topic, make_rgb_topic, solve_topic, measure_topic : str
        Topics of the chain's steps.
    lightcurve_topic : str
        Topic of build-lightcurve (message ``{"sequence_id", "options"}``).
    analysis_topic : str
        Topic of analyse-run (message ``{"sequence_id", "run_id"}``), published by
        build-lightcurve when a run is done.
    public_base_url : str
        Base of public object URLs: ``<base>/<bucket>/<name>``
        (``PANOPTES_PUBLIC_BASE_URL``; the emulator's address locally).
    max_header_bytes : int
        Bound on the bytes read for one FITS header, in bytes.
    raw_fits_wait_minutes : int
        How long a raw file's converted FITS waits for the unit's own FITS of the same image
        before it enters the chain, in minutes (``PANOPTES_RAW_FITS_WAIT_MINUTES``).
    lightcurve_quiet_minutes : float
        An observation is done, and its light curves are due, when no frame arrived for this
        long, in minutes (``PANOPTES_LIGHTCURVE_QUIET_MINUTES``).
    catalog : str
        The star catalog file, or a ``gs://`` URI of one (``PANOPTES_CATALOG``); empty for
        the default cache path.
    lookup_online : bool
        Whether lookup-field may resolve names online through CDS Sesame
        (``PANOPTES_LOOKUP_ONLINE``: ``1``, ``true``, ``yes``, ``on`` or their opposites).
    max_frame_pixels : int
        Most pixels a frame may announce; a larger one is quarantined before any pixel is
        decompressed (``PANOPTES_MAX_FRAME_PIXELS``; four full Canon frames).
    reconcile_after_minutes : float
        An upload with no final state this long after its last step is re-queued by the
        reconciler, in minutes.
    stuck_after_minutes : float
        An image left uploaded (not solved) or solved (not measured) this long is re-queued
        by the reconciler, in minutes.
    reconcile_max_attempts : int
        Re-queues of one upload or image before the reconciler records it as failed.
    reconcile_batch : int
        Most due uploads and most due images one reconciler run reads (documents).
    audience_prefix : str
        A private service's ID-token audience is ``<audience_prefix>/<service>``
        (``PANOPTES_AUDIENCE_PREFIX``); ``bin/deploy`` sets it as the Cloud Run custom
        audience and ``infra.apply`` gives it to pushes and scheduler jobs.
    identity_certs_url : str
        Where the keys that sign ID tokens are (``PANOPTES_IDENTITY_CERTS_URL``): Google's
        JWKS, or the local stack's.
    push_account, scheduler_account : str
        Names of the service accounts Pub/Sub push and Cloud Scheduler call as; the e-mail
        is ``<name>@<project>.iam.gserviceaccount.com``.
    header_service_url : str
        URL of the get-fits-header service, for the Data Explorer's links to a frame's
        header (``PANOPTES_HEADER_SERVICE_URL``, e.g. ``http://127.0.0.1:8094/`` locally);
        empty when not known: the explorer then names the service without a URL.
    """

    project_id: str = "demo-panoptes"
    incoming_bucket: str = "panoptes-images-incoming"
    archive_bucket: str = "panoptes-images-archive"
    images_bucket: str = "panoptes-images"
    quarantine_bucket: str = "panoptes-images-quarantine"
    jpg_bucket: str = "panoptes-images-jpg"
    mp4_bucket: str = "panoptes-images-mp4"
    solved_bucket: str = "panoptes-images-solved"
    sources_bucket: str = "panoptes-sources"
    lightcurves_bucket: str = "panoptes-lightcurves"
    calibrations_bucket: str = "panoptes-calibrations"
    rgb_bucket: str = "panoptes-images-rgb"
    preview_bucket: str = "panoptes-images-preview"
    raw_fits_bucket: str = "panoptes-images-raw-fits"
    upload_topic: str = "raw-file-uploaded"
    compress_topic: str = "compress-fits"
    record_topic: str = "record-image"
    make_rgb_topic: str = "make-rgb-fits"
    solve_topic: str = "plate-solve"
    measure_topic: str = "measure-sources"
    lightcurve_topic: str = "build-lightcurve"
    analysis_topic: str = "analyse-run"
    public_base_url: str = "https://storage.googleapis.com"
    max_header_bytes: int = 100 * 2880
    raw_fits_wait_minutes: int = 30
    lightcurve_quiet_minutes: float = 30.0
    catalog: str = ""
    lookup_online: bool = False
    max_frame_pixels: int = 4 * 5208 * 3476
    reconcile_after_minutes: float = 15.0
    stuck_after_minutes: float = 30.0
    reconcile_max_attempts: int = 5
    reconcile_batch: int = 500
    audience_prefix: str = "panoptes-network"
    identity_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    push_account: str = "panoptes-push"
    scheduler_account: str = "panoptes-scheduler"
    header_service_url: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables.

        Parameters
        ----------
        environ : Mapping, optional
            The environment; ``os.environ`` by default.

        Returns
        -------
        Settings
            Defaults overridden by ``PANOPTES_<FIELD>`` variables; the project from
            ``GOOGLE_CLOUD_PROJECT``; the public URL base from ``STORAGE_EMULATOR_HOST`` when
            running against the emulator and no base is set.

        Raises
        ------
        SettingsError
            When a variable's value does not parse as its field's type.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(_ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(_ENV_PREFIX + f.name.upper(), raw, f.type)
        if "GOOGLE_CLOUD_PROJECT" in env:
            values.setdefault("project_id", env["GOOGLE_CLOUD_PROJECT"])
        emulator = env.get("STORAGE_EMULATOR_HOST")
        if emulator and "public_base_url" not in values:
            values["public_base_url"] = emulator.rstrip("/")
        return cls(**values)  # type: ignore[arg-type]

    def audience(self, service: str) -> str:
        """Return the ID-token audience of a private service: ``<audience_prefix>/<service>``."""
        return f"{self.audience_prefix}/{service}"

    def account_email(self, role: str) -> str:
        """Return the e-mail of the service account of a role (``push`` or ``scheduler``).

        Parameters
        ----------
        role : str
            ``push`` or ``scheduler``.

        Returns
        -------
        str
            ``<name>@<project>.iam.gserviceaccount.com``.
        """
        name = {"push": self.push_account, "scheduler": self.scheduler_account}[role]
        return f"{name}@{self.project_id}.iam.gserviceaccount.com"

    def callers(self, service: str) -> frozenset[str] | None:
        """Return the e-mails allowed to call a service; None for a public service."""
        roles = SERVICE_CALLERS.get(service)
        return None if roles is None else frozenset(self.account_email(r) for r in roles)

    def header_buckets(self) -> frozenset[str]:
        """Return the buckets whose FITS headers get-fits-header may read: the public ones.

        Returns
        -------
        frozenset of str
            The images, solved and RGB buckets (never archive, quarantine or incoming).
        """
        return frozenset({self.images_bucket, self.solved_bucket, self.rgb_bucket})

    def input_buckets(self, service: str) -> frozenset[str]:
        """Return the buckets a service may be told to read (:data:`STEP_INPUTS`).

        Parameters
        ----------
        service : str
            The service name.

        Returns
        -------
        frozenset of str
            Bucket names; empty for a service that takes no object messages.
        """
        return frozenset(getattr(self, f) for f in STEP_INPUTS.get(service, ()))

    def public_url(self, bucket: str, name: str) -> str:
        """Return the public URL of an object.

        Parameters
        ----------
        bucket : str
            Bucket name.
        name : str
            Object name.

        Returns
        -------
        str
            ``<public_base_url>/<bucket>/<name>``.
        """
        return f"{self.public_base_url}/{bucket}/{name}"
