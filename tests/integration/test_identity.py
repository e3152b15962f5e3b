"""Identity on every door, on the running stack: tokens minted with the stack's own key.

Every private service verifies the caller's ID token in code (``adapters/identity.py``), the
same check as on Google Cloud. Locally pushes are signed by the push relay and scheduler
calls by the scheduler; here each way a token can be wrong is sent straight to a service's
port, and nothing it asks for may be written.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

pytestmark = pytest.mark.integration


def _push_envelope(payload: dict) -> dict:
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return {
        "message": {"data": data, "messageId": "forged-1", "attributes": {}},
        "subscription": "projects/demo-panoptes/subscriptions/record-image",
    }


CASES = [
    ("no token", {}, 401),
    ("expired", {"issued_at": time.time() - 7200, "lifetime": 3600}, 401),
    ("wrong audience", {"audience": "panoptes-network/compress-fits"}, 401),
    ("wrong issuer", {"issuer": "https://evil.example"}, 401),
    ("tampered", "tampered", 401),
    ("wrong account", {"email": "intruder@demo-panoptes.iam.gserviceaccount.com"}, 403),
]


def _headers(stack, service: str, role: str, case) -> dict[str, str]:
    if case == {}:
        return {}
    if case == "tampered":
        token = stack.as_caller(service, role)["Authorization"]
        return {
            "Authorization": token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        }
    return stack.as_caller(service, role, **case)


@pytest.mark.parametrize(("name", "case", "status"), CASES, ids=[c[0] for c in CASES])
def test_a_push_endpoint_refuses_a_bad_token_and_writes_nothing(
    stack, unit_ids, name, case, status
):
    unit, camera = unit_ids
    envelope = _push_envelope(
        {
            "bucket": stack.settings.images_bucket,
            "name": f"{unit}/{camera}/20160909T081152/20160909T081226.fits.fz",
        }
    )
    headers = {"Content-Type": "application/json", **_headers(stack, "record-image", "push", case)}
    answer = requests.post(stack.url("record-image"), json=envelope, headers=headers, timeout=10)
    assert answer.status_code == status, (name, answer.text)
    assert "Traceback" not in answer.text and "error" in answer.json()
    assert stack.doc("images", f"{unit}_{camera}_20160909T081226") is None
    assert stack.doc("units", unit) is None
    assert stack.services_answer()


def test_a_push_with_the_scheduler_account_is_403(stack):
    headers = stack.as_caller("record-image", "scheduler")
    answer = requests.post(
        stack.url("record-image"), json=_push_envelope({}), headers=headers, timeout=10
    )
    assert answer.status_code == 403, answer.text


@pytest.mark.parametrize(("name", "case", "status"), CASES, ids=[c[0] for c in CASES])
def test_a_scheduler_endpoint_refuses_a_bad_token(stack, name, case, status):
    url = stack.url("reconcile") + "sweep"
    headers = _headers(stack, "reconcile", "scheduler", case)
    answer = requests.post(url, json={}, headers=headers, timeout=30)
    assert answer.status_code == status, (name, answer.text)
    assert "Traceback" not in answer.text


def test_the_scheduler_account_may_sweep_and_the_push_account_may_not(stack):
    url = stack.url("reconcile") + "sweep"
    ok = requests.post(url, json={}, headers=stack.as_caller("reconcile"), timeout=30)
    assert ok.status_code in (200, 202), ok.text
    assert "documents_read" in ok.json()
    pushed = requests.post(url, json={}, headers=stack.as_caller("reconcile", "push"), timeout=30)
    assert pushed.status_code == 403


def test_public_lookups_need_no_token(stack):
    params = {"search_string": "HD 189733", "radius_deg": "0.1"}
    answer = requests.get(stack.url("lookup-field"), params=params, timeout=30)
    assert answer.status_code == 200, answer.text
