"""A Google Cloud project in memory that answers the gcloud commands infra.apply runs.

It parses each command line on its own (flags, positional names) and keeps the project's
state in gcloud's JSON shapes, so a plan carried out against it and read back shows whether
applying twice changes nothing. Anything it does not know fails loudly.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from infra.gcloud import Outcome


def _flags(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    words, flags = [], {}
    for arg in argv:
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            flags.setdefault(key, []).append(value)
        else:
            words.append(arg)
    return words, flags


class FakeProject:
    """One project, its state and the commands it has run."""

    def __init__(self, project: str = "demo-proj", number: str = "123456", region: str = "r1"):
        self.project, self.number, self.region = project, number, region
        self.apis: set[str] = {"storage.googleapis.com"}
        self.accounts: set[str] = set()
        self.policies: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.firestore = False
        self.indexes: list[dict[str, Any]] = []
        self.buckets: dict[str, dict[str, Any]] = {}
        self.notifications: dict[str, list[str]] = {}
        self.topics: set[str] = set()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.services: dict[str, str] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.rules: str | None = None
        self.ran: list[list[str]] = []

    # -- test helpers -------------------------------------------------------------------
    def deploy(self, service: str) -> None:
        """Deploy a service as bin/deploy would (the Cloud Run service exists with a URL)."""
        self.services[service] = f"https://{service}-{self.number}.{self.region}.run.app"

    def release_rules(self, source: str) -> None:
        """Release Firestore rules (the Firebase Rules API)."""
        self.rules = source

    # -- gcloud -------------------------------------------------------------------------
    def __call__(self, argv: list[str]) -> Outcome:
        assert argv[0] == "gcloud", argv
        self.ran.append(argv)
        words, flags = _flags(argv[1:])
        try:
            answer = self._answer(words, flags)
        except KeyError as exc:
            return Outcome(1, "", f"ERROR: (gcloud) NOT_FOUND: {exc}")
        if "format" in flags:
            return Outcome(0, json.dumps(answer), "")
        return Outcome(0, "", "")

    def _policy_json(self, key: tuple[str, str]) -> dict[str, Any]:
        policy = self.policies.get(key, {})
        return {
            "bindings": [{"role": r, "members": sorted(m)} for r, m in sorted(policy.items()) if m]
        }

    def _answer(self, w: list[str], f: dict[str, list[str]]) -> Any:  # noqa: C901
        one = {k: v[-1] for k, v in f.items()}
        group = tuple(w[:3])
        if w[:2] == ["projects", "describe"]:
            return {"projectId": w[2], "projectNumber": self.number}
        if w[:2] == ["services", "list"]:
            return [{"config": {"name": api}} for api in sorted(self.apis)]
        if w[:2] == ["services", "enable"]:
            self.apis.update(w[2:])
            return None
        if w[:3] == ["iam", "service-accounts", "list"]:
            return [{"email": e} for e in sorted(self.accounts)]
        if w[:3] == ["iam", "service-accounts", "create"]:
            self.accounts.add(f"{w[3]}@{self.project}.iam.gserviceaccount.com")
            return None
        kinds = {
            ("projects",): "project",
            ("iam", "service-accounts"): "account",
            ("storage", "buckets"): "bucket",
            ("pubsub", "topics"): "topic",
            ("pubsub", "subscriptions"): "subscription",
            ("run", "services"): "service",
        }
        for prefix, kind in kinds.items():
            n = len(prefix)
            if tuple(w[:n]) == prefix and len(w) > n + 1 and "iam-policy" in w[n]:
                name = w[n + 1].removeprefix("gs://")
                key = (kind, name)
                self._exists(kind, name)
                if w[n] == "get-iam-policy":
                    return self._policy_json(key)
                member, role = one["member"], one["role"]
                members = self.policies.setdefault(key, {}).setdefault(role, set())
                if w[n] == "add-iam-policy-binding":
                    members.add(member)
                elif w[n] == "remove-iam-policy-binding":
                    if member not in members:
                        raise KeyError(f"{member} has no {role} on {name}")
                    members.discard(member)
                else:
                    raise AssertionError(w)
                return self._policy_json(key)
        if w[:3] == ["firestore", "databases", "describe"]:
            if not self.firestore:
                raise KeyError("database (default)")
            return {"name": f"projects/{self.project}/databases/(default)"}
        if w[:3] == ["firestore", "databases", "create"]:
            assert one["database"] == "(default)" and one["location"]
            self.firestore = True
            return None
        if w[:4] == ["firestore", "indexes", "composite", "list"]:
            return self.indexes
        if w[:4] == ["firestore", "indexes", "composite", "create"]:
            fields = []
            for config in f["field-config"]:
                parts = dict(p.split("=", 1) for p in config.split(","))
                if "array-config" in parts:
                    assert parts["array-config"] == "contains", config
                    fields.append({"fieldPath": parts["field-path"], "arrayConfig": "CONTAINS"})
                else:
                    fields.append(
                        {"fieldPath": parts["field-path"], "order": parts["order"].upper()}
                    )
            fields.append({"fieldPath": "__name__", "order": fields[-1]["order"]})
            group = one["collection-group"]
            self.indexes.append(
                {
                    "name": f"projects/{self.project}/databases/(default)/collectionGroups/"
                    f"{group}/indexes/i{len(self.indexes)}",
                    "queryScope": one["query-scope"],
                    "fields": fields,
                    "state": "CREATING",
                }
            )
            return None
        if group == ("storage", "buckets", "list"):
            return [{"name": name, **spec} for name, spec in sorted(self.buckets.items())]
        if group == ("storage", "buckets", "create"):
            name = w[3].removeprefix("gs://")
            assert name not in self.buckets, f"bucket {name} exists"
            self.buckets[name] = {
                "location": one["location"],
                "uniform_bucket_level_access": "uniform-bucket-level-access" in f,
            }
            return None
        if group == ("storage", "buckets", "update"):
            bucket = self.buckets[w[3].removeprefix("gs://")]
            if "versioning" in f:
                bucket["versioning_enabled"] = True
            if "no-versioning" in f:
                bucket["versioning_enabled"] = False
            if "lifecycle-file" in f:
                rules = json.loads(Path(one["lifecycle-file"]).read_text())["rule"]
                bucket["lifecycle_config"] = {"rule": rules}
            if "clear-lifecycle" in f:
                bucket.pop("lifecycle_config", None)
            if "retention-period" in f:
                seconds = one["retention-period"].removesuffix("s")
                bucket["retention_policy"] = {"retentionPeriod": seconds}
            if "clear-retention-period" in f:
                bucket.pop("retention_policy", None)
            if "uniform-bucket-level-access" in f:
                bucket["uniform_bucket_level_access"] = True
            return None
        if w[:3] == ["storage", "buckets", "notifications"]:
            name = w[4].removeprefix("gs://")
            self._exists("bucket", name)
            if w[3] == "list":
                return [
                    {"topic": f"//pubsub.googleapis.com/{t}"}
                    for t in self.notifications.get(name, [])
                ]
            assert w[3] == "create" and one["payload-format"] == "json"
            self.notifications.setdefault(name, []).append(one["topic"])
            return None
        if group == ("pubsub", "topics", "list"):
            return [{"name": f"projects/{self.project}/topics/{t}"} for t in sorted(self.topics)]
        if group == ("pubsub", "topics", "create"):
            assert w[3] not in self.topics
            self.topics.add(w[3])
            return None
        if group == ("pubsub", "subscriptions", "list"):
            return list(self.subscriptions.values())
        if group in (("pubsub", "subscriptions", "create"), ("pubsub", "subscriptions", "update")):
            name = w[3]
            if w[2] == "create":
                assert name not in self.subscriptions
                assert one["topic"] in self.topics, one["topic"]
                sub = {
                    "name": f"projects/{self.project}/subscriptions/{name}",
                    "topic": f"projects/{self.project}/topics/{one['topic']}",
                }
                self.subscriptions[name] = sub
            sub = self.subscriptions[name]
            sub["ackDeadlineSeconds"] = int(one["ack-deadline"])
            if "push-endpoint" in one:
                sub["pushConfig"] = {
                    "pushEndpoint": one["push-endpoint"],
                    "oidcToken": {
                        "serviceAccountEmail": one["push-auth-service-account"],
                        "audience": one["push-auth-token-audience"],
                    },
                }
            if "min-retry-delay" in one:
                sub["retryPolicy"] = {
                    "minimumBackoff": one["min-retry-delay"],
                    "maximumBackoff": one["max-retry-delay"],
                }
            if "dead-letter-topic" in one:
                sub["deadLetterPolicy"] = {
                    "deadLetterTopic": one["dead-letter-topic"],
                    "maxDeliveryAttempts": int(one["max-delivery-attempts"]),
                }
            return None
        if group == ("run", "services", "list"):
            return [
                {"metadata": {"name": n}, "status": {"url": u}}
                for n, u in sorted(self.services.items())
            ]
        if group == ("scheduler", "jobs", "list"):
            return list(self.jobs.values())
        if w[:3] == ["scheduler", "jobs", "create"] or w[:3] == ["scheduler", "jobs", "update"]:
            name = w[4]
            assert (name in self.jobs) == (w[2] == "update"), name
            self.jobs[name] = {
                "name": f"projects/{self.project}/locations/{one['location']}/jobs/{name}",
                "schedule": one["schedule"],
                "timeZone": one["time-zone"],
                "httpTarget": {
                    "uri": one["uri"],
                    "httpMethod": one["http-method"],
                    "body": base64.b64encode(one["message-body"].encode()).decode(),
                    "oidcToken": {
                        "serviceAccountEmail": one["oidc-service-account-email"],
                        "audience": one["oidc-token-audience"],
                    },
                },
            }
            return None
        raise AssertionError(f"the fake project does not know: gcloud {' '.join(w)} {f}")

    def _exists(self, kind: str, name: str) -> None:
        present = {
            "project": name == self.project,
            "account": name in self.accounts,
            "bucket": name in self.buckets,
            "topic": name in self.topics,
            "subscription": name in self.subscriptions,
            "service": name in self.services,
        }[kind]
        if not present:
            raise KeyError(f"{kind} {name}")
