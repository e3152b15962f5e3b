"""Scheduler jobs: declared in infra, checked on load, run locally and deployed with gcloud."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from emulator.scheduler import job_url, next_run, run_forever
from infra.plan import scheduler_job_command
from infra.spec import Resources, Schedule, Service, load

T0 = datetime(2026, 11, 21, 3, 7, 30, tzinfo=timezone.utc)


def test_the_lightcurve_sweep_is_declared_and_calls_the_sweep_endpoint():
    resources = load()
    jobs = {job.name: job for job in resources.schedules}
    sweep = jobs["lightcurve-sweep"]
    assert sweep.call == "lightcurve-requests" and sweep.path == "/sweep"
    assert job_url(resources, sweep) == "http://127.0.0.1:8099/sweep"
    assert isinstance(sweep.body["quiet_minutes"], (int, float))


@pytest.mark.parametrize(
    ("job", "says"),
    [
        ("{name: j, cron: '*/5 * * * *', call: nowhere}", "not an HTTP service"),
        ("{name: j, cron: '*/5 * * * *', call: push-only}", "not an HTTP service"),
        ("{name: j, cron: 'every five minutes', call: web}", "bad cron expression"),
        ("{name: j, cron: '*/5 * * * *', call: web, path: sweep}", "path must start"),
    ],
)
def test_bad_schedules_are_refused_when_the_file_is_loaded(tmp_path: Path, job, says):
    text = f"""
topics: [push-only]
subscriptions:
  - {{name: push-only, topic: push-only, push_to: push-only}}
schedules:
  - {job}
"""
    path = tmp_path / "resources.yaml"
    path.write_text(text)
    services = tmp_path / "services"
    for name, body in {
        "web": "signature: http\ntrigger: http\ncallers: [scheduler]",
        "push-only": "signature: cloudevent\ntrigger: topic push-only\ncallers: [push]",
    }.items():
        (services / name).mkdir(parents=True)
        (services / name / "service.yaml").write_text(
            f"kind: function\nruntime: python311\nentry_point: handle\n{body}\n"
            f"service_account: panoptes-{name}\nlocal_port: {9001 + len(name)}\n"
        )
    with pytest.raises(ValueError, match=says):
        load(path, services)


def test_next_run_follows_the_cron_expression_in_its_time_zone():
    every_quarter = Schedule("j", "*/15 * * * *", "web")
    assert next_run(every_quarter, T0) == datetime(2026, 11, 21, 3, 15, tzinfo=timezone.utc)
    # 20:00 in Hawaii (UTC-10) is 06:00 UTC the next day.
    evening = Schedule("j", "0 20 * * *", "web", time_zone="Pacific/Honolulu")
    assert next_run(evening, T0) == datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)


def test_gcloud_commands_create_then_update_with_oidc():
    job = Schedule("lightcurve-sweep", "*/15 * * * *", "web", "/sweep", {"quiet_minutes": 30})
    url = "https://us-central1-p.cloudfunctions.net/web/sweep"
    create = scheduler_job_command(job, "p", "us-central1", url, "sa@p.iam", exists=False)
    assert create[:6] == ["gcloud", "scheduler", "jobs", "create", "http", "lightcurve-sweep"]
    assert "--schedule=*/15 * * * *" in create and f"--uri={url}" in create
    assert '--message-body={"quiet_minutes": 30}' in create
    assert "--oidc-service-account-email=sa@p.iam" in create
    assert "--oidc-token-audience=panoptes-network/web" in create  # the service's audience
    update = scheduler_job_command(job, "p", "us-central1", url, None, exists=True)
    assert update[3] == "update" and "--update-headers=Content-Type=application/json" in update
    assert not any(a.startswith("--oidc") for a in update)


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, body))
        answer = b'{"queued": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_the_local_scheduler_posts_each_job_when_it_comes_due(capsys):
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        web = Service("web", "function", "handle", "http", port)
        resources = Resources(
            (),
            (),
            (),
            (),
            {"web": web},
            (
                Schedule("often", "*/5 * * * *", "web", "/sweep", {"quiet_minutes": 30}),
                Schedule("hourly", "0 * * * *", "web", "/other"),
            ),
        )
        clock = [T0]
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock[0] += timedelta(seconds=seconds)

        run_forever(resources, now=lambda: clock[0], sleep=sleep, rounds=4)
    finally:
        server.shutdown()
    # "often" at 03:10, 03:15, 03:20 and 03:25; "hourly" is not due before 04:00.
    assert _Recorder.calls == [("/sweep", {"quiet_minutes": 30})] * 4
    assert datetime(2026, 11, 21, 3, 25, tzinfo=timezone.utc) <= clock[0] < T0 + timedelta(hours=1)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["status"] for line in lines] == [200] * 4
    assert all(w <= 60.0 for w in waits)
