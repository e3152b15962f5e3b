"""Optional online name resolution through CDS Sesame (astropy's ``SkyCoord.from_name``).

Off by default: the field lookup resolves names from the offline table
(:mod:`~.target_names`). A service turns this fallback on with
``PANOPTES_LOOKUP_ONLINE=1``; even then each lookup first checks, with a short TCP connect
whose answer is kept for a while, that the Sesame host is reachable, so a machine without a
network answers at once instead of waiting for timeouts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from panoptes_network.pipeline.settings import Settings

__all__ = ["ONLINE_ENV_VAR", "NameResolver", "SesameResolver", "online_enabled"]

#: Environment variable that turns online name resolution on (``1``, ``true``, ``yes``, ``on``).
ONLINE_ENV_VAR = "PANOPTES_LOOKUP_ONLINE"
#: A name resolver: name in, ICRS (RA, Dec) in degrees out, or None when unknown/unreachable.
NameResolver = Callable[[str], "tuple[float, float] | None"]


def online_enabled(environ: Mapping[str, str]) -> bool:
    """Return whether ``environ`` turns online name resolution on.

    Parameters
    ----------
    environ : Mapping of str to str
        The environment (``os.environ`` in a service).

    Returns
    -------
    bool
        True when ``PANOPTES_LOOKUP_ONLINE`` is ``1``, ``true``, ``yes`` or ``on``.
    """
    return Settings.from_env(environ).lookup_online


class SesameResolver:
    """Resolve names with Sesame when its host answers.

    Parameters
    ----------
    timeout_s : float
        Timeout of the reachability check and of the Sesame query, in seconds.
    recheck_after_s : float
        How long a reachability answer is kept, in seconds.
    """

    def __init__(self, timeout_s: float = 3.0, recheck_after_s: float = 300.0):
        self.timeout_s = timeout_s
        self.recheck_after_s = recheck_after_s
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._reachable = False

    def _host(self) -> tuple[str, int]:
        from astropy.coordinates import name_resolve

        url = urlsplit(name_resolve.sesame_url.get()[0])
        return url.hostname or "cds.unistra.fr", url.port or (443 if url.scheme == "https" else 80)

    def reachable(self) -> bool:
        """Return whether the Sesame host accepted a TCP connection recently."""
        with self._lock:
            if time.monotonic() - self._checked_at < self.recheck_after_s:
                return self._reachable
            try:
                with socket.create_connection(self._host(), timeout=self.timeout_s):
                    self._reachable = True
            except OSError:
                self._reachable = False
            self._checked_at = time.monotonic()
            return self._reachable

    def __call__(self, name: str) -> tuple[float, float] | None:
        """Return the ICRS (RA, Dec) of ``name`` in degrees, or None (unknown, unreachable)."""
        if not self.reachable():
            return None
        from astropy.coordinates import SkyCoord
        from astropy.coordinates.name_resolve import NameResolveError
        from astropy.utils.data import conf

        try:
            with conf.set_temp("remote_timeout", self.timeout_s):
                position = SkyCoord.from_name(name, parse=False, cache=False)
        except NameResolveError:
            return None
        except OSError:
            with self._lock:
                self._reachable = False
                self._checked_at = time.monotonic()
            return None
        icrs = position.icrs
        return float(icrs.ra.deg), float(icrs.dec.deg)
