"""Settings of the network, built once per process and passed explicitly.

Every value has a default that matches ``infra/resources.yaml``; environment variables
override them (for a test project or a second deployment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["Settings"]

_ENV_PREFIX = "PANOPTES_"


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
    rgb_bucket, preview_bucket : str
        Colour products of camera raw files: RGB FITS and JPEG previews.
    raw_fits_bucket : str
        Bayer FITS frames converted from raw files, waiting to enter the chain.
    compress_topic, record_topic, make_rgb_topic, solve_topic, measure_topic : str
        Topics of the chain's steps.
    lightcurve_topic : str
        Topic of build-lightcurve (message ``{"sequence_id", "options"}``).
    public_base_url : str
        Base of public object URLs: ``<base>/<bucket>/<name>``
        (``PANOPTES_PUBLIC_BASE_URL``; the emulator's address locally).
    max_header_bytes : int
        Bound on the bytes read for one FITS header, in bytes.
    raw_fits_wait_minutes : int
        How long a raw file's converted FITS waits for the unit's own FITS of the same image
        before it enters the chain, in minutes (``PANOPTES_RAW_FITS_WAIT_MINUTES``).
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
    rgb_bucket: str = "panoptes-images-rgb"
    preview_bucket: str = "panoptes-images-preview"
    raw_fits_bucket: str = "panoptes-images-raw-fits"
    compress_topic: str = "compress-fits"
    record_topic: str = "record-image"
    make_rgb_topic: str = "make-rgb-fits"
    solve_topic: str = "plate-solve"
    measure_topic: str = "measure-sources"
    lightcurve_topic: str = "build-lightcurve"
    public_base_url: str = "https://storage.googleapis.com"
    max_header_bytes: int = 100 * 2880
    raw_fits_wait_minutes: int = 30

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
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(_ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = int(raw) if f.type in ("int", int) else raw
        if "GOOGLE_CLOUD_PROJECT" in env:
            values.setdefault("project_id", env["GOOGLE_CLOUD_PROJECT"])
        emulator = env.get("STORAGE_EMULATOR_HOST")
        if emulator and "public_base_url" not in values:
            values["public_base_url"] = emulator.rstrip("/")
        return cls(**values)  # type: ignore[arg-type]

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
