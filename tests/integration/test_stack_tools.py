"""The stack's tools: infra apply is idempotent and repairs drift; bin/upload uploads."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2, field_mask_pb2

from infra.apply import apply
from infra.spec import load
from panoptes_network.cli import upload as upload_cli
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def _apply(stack):
    resources = load()
    return apply(
        resources,
        stack.config.project,
        endpoint=resources.local_push_endpoint,
        say=lambda line: None,
    )


def test_apply_twice_changes_nothing_and_repairs_a_drifted_subscription(stack):
    assert _apply(stack) == []
    path = stack.subscriber.subscription_path(stack.config.project, "compress-fits")
    stack.subscriber.update_subscription(
        request={
            "subscription": {
                "name": path,
                "retry_policy": {
                    "minimum_backoff": duration_pb2.Duration(seconds=7),
                    "maximum_backoff": duration_pb2.Duration(seconds=9),
                },
            },
            "update_mask": field_mask_pb2.FieldMask(paths=["retry_policy"]),
        }
    )
    assert _apply(stack) == ["updated subscription compress-fits: retry_policy"]
    assert (
        stack.subscriber.get_subscription(subscription=path).retry_policy.minimum_backoff.seconds
        == 1
    )
    assert _apply(stack) == []


def test_bin_upload_puts_a_unit_folder_under_its_bucket_path(
    stack, unit_ids, panoptes_data, tmp_path
):
    unit, camera = unit_ids
    folder = tmp_path / unit / camera / "20160909T081152"
    folder.mkdir(parents=True)
    (folder / "20160909T081226.fits").write_bytes((panoptes_data / "tiny.fits").read_bytes())
    assert upload_cli.main([str(tmp_path)]) == 0
    wait_for(
        "the uploaded frame's doc", lambda: stack.doc("images", f"{unit}_{camera}_20160909T081226")
    )


def test_the_stack_runs_the_scheduler_and_its_jobs_reach_their_services(stack):
    import subprocess
    import sys

    from emulator.stack import ROOT, status

    assert status(stack.config)["scheduler"]["running"]
    for job in load().schedules:
        done = subprocess.run(
            [sys.executable, "-m", "emulator.scheduler", "--run-now", job.name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{job.name}: {done.stdout}{done.stderr}"
        assert done.stdout.split()[0] in {"200", "202"}
