"""Read and release a project's Firestore rules through the Firebase Rules API.

gcloud has no command for security rules; this is the API the Firebase CLI's
``firebase deploy --only firestore:rules`` calls, with gcloud's access token.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import requests

from infra.project_state import rules_source

__all__ = ["FirebaseRules"]

API = "https://firebaserules.googleapis.com/v1"
RELEASE = "cloud.firestore"


def _gcloud_token() -> str:
    """Return gcloud's access token for the signed-in account."""
    return subprocess.run(
        ["gcloud", "auth", "print-access-token"], capture_output=True, text=True, check=True
    ).stdout.strip()


class FirebaseRules:
    """The Firestore rules of one project.

    Parameters
    ----------
    project : str
        Project id.
    timeout : float
        Seconds one request may take.
    api : str
        Base URL of the API.
    token : callable, optional
        Returns an OAuth access token (default: ``gcloud auth print-access-token``).
    """

    def __init__(
        self,
        project: str,
        timeout: float = 30.0,
        *,
        api: str = API,
        token: Callable[[], str] | None = None,
    ) -> None:
        self.project = project
        self.timeout = timeout
        self.api = api.rstrip("/")
        self._token_source = token or _gcloud_token
        self._token: str | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._token_source()
        return {"Authorization": f"Bearer {self._token}", "x-goog-user-project": self.project}

    def current(self) -> str | None:
        """Return the source of the released Firestore rules, or None when none is released."""
        url = f"{self.api}/projects/{self.project}/releases/{RELEASE}"
        answer = requests.get(url, headers=self._headers(), timeout=self.timeout)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        ruleset = requests.get(
            f"{self.api}/{answer.json()['rulesetName']}",
            headers=self._headers(),
            timeout=self.timeout,
        )
        ruleset.raise_for_status()
        return rules_source(ruleset.json())

    def release(self, source: str) -> None:
        """Create a ruleset from ``source`` and release it to Firestore.

        Parameters
        ----------
        source : str
            The rules, as in ``infra/firestore.rules``.
        """
        created = requests.post(
            f"{self.api}/projects/{self.project}/rulesets",
            json={"source": {"files": [{"name": "firestore.rules", "content": source}]}},
            headers=self._headers(),
            timeout=self.timeout,
        )
        created.raise_for_status()
        release = {
            "name": f"projects/{self.project}/releases/{RELEASE}",
            "rulesetName": created.json()["name"],
        }
        exists = self.current() is not None
        answer = (
            requests.patch(
                f"{self.api}/{release['name']}",
                json={"release": release},
                headers=self._headers(),
                timeout=self.timeout,
            )
            if exists
            else requests.post(
                f"{self.api}/projects/{self.project}/releases",
                json=release,
                headers=self._headers(),
                timeout=self.timeout,
            )
        )
        answer.raise_for_status()
