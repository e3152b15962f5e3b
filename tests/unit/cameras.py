"""Camera registry entries for the unit tests.

Every camera constant is resolved per frame (header, then the ``cameras`` registry), so a test
that runs a step on a frame registers its camera first. The simulated cameras have their own
electronics (:func:`~panoptes_network.simulation.camera.camera_electronics`), so their entries
come from the simulator; the real frames of ``../shared/data/panoptes`` were taken by a Canon
EOS 100D, whose black level, gain and read noise :data:`REAL_CAMERA` holds (their headers give
the white level ``WHTLVLN`` and the pattern ``FILTER``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import CAMERAS
from panoptes_network.simulation.camera import SIMULATED_SOURCE, CameraModel

__all__ = ["REAL_CAMERA", "SIMULATED_IDS", "register_cameras", "simulated_entries"]

_REAL_SOURCE = "Canon EOS 100D: 14-bit black level, unity-ISO gain and read noise at ISO 100"
#: The registry entry of the camera of the real PAN001 frames (no saturation: the header's).
REAL_CAMERA: dict[str, Any] = {
    "bias_adu": 2048.0,
    "gain_e_per_adu": 1.5,
    "read_noise_e": 10.5,
    "bias_adu_source": _REAL_SOURCE,
    "gain_e_per_adu_source": _REAL_SOURCE,
    "read_noise_e_source": _REAL_SOURCE,
}
#: Camera ids the unit tests' paths use.
SIMULATED_IDS: tuple[str, ...] = ("14d3bd", "ee04d1", "95cdbc", "358d0f", "0a0b0c", "0abcde")


def simulated_entries(ids: Iterable[str] = SIMULATED_IDS) -> dict[str, dict[str, Any]]:
    """Return the registry entries of simulated cameras, by id."""
    return {
        camera_id: CameraModel(camera_id, width=2, height=2, hot_pixel_count=0).registry_entry(
            SIMULATED_SOURCE
        )
        for camera_id in ids
    }


def register_cameras(documents: DocumentStore, entries: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``cameras/{camera_id}`` documents."""
    for camera_id, entry in entries.items():
        documents.merge(CAMERAS, camera_id, dict(entry))
