"""Dead letters: listing leaves them in place; redrive sends each one back to its own topic.

A small in-memory Pub/Sub (one pull subscription and the subscriptions it knows) stands in for
the clients; the calls against the emulator are tested in integration.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from google.api_core import exceptions as api_errors

from panoptes_network.adapters.dead_letters import (
    REDRIVEN_FROM,
    REDRIVEN_MESSAGE_ID,
    SOURCE_PROJECT,
    SOURCE_SUBSCRIPTION,
    DeadLetter,
    list_dead_letters,
    redrive,
    redrive_attributes,
    source_subscription_path,
)
from panoptes_network.cli.dead_letters import EVERY, report

PROJECT = "demo-panoptes"
DEAD = f"projects/{PROJECT}/subscriptions/dead-letter"


def _dead_attributes(source: str | None, **original: str) -> dict[str, str]:
    attributes = dict(original)
    if source is not None:
        attributes[SOURCE_SUBSCRIPTION] = source
        attributes["CloudPubSubDeadLetterSourceDeliveryCount"] = "5"
        attributes["CloudPubSubDeadLetterSourceTopicPublishTime"] = "2026-11-21T03:07:30Z"
    return attributes


@dataclass
class FakePubSub:
    """One pull subscription (``dead-letter``) and a table of subscription -> topic.

    ``pull`` returns at most ``per_pull`` messages that are not held; a pulled message is held
    until it is acknowledged (gone) or its deadline is set to 0 (back).
    """

    subscriptions: dict[str, str]
    messages: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    published: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    failing_topics: set[str] = field(default_factory=set)
    per_pull: int = 2

    def add(self, message_id: str, data: bytes, attributes: dict[str, str]) -> None:
        self.messages[message_id] = (data, attributes)

    def pull(self, *, subscription: str, max_messages: int, timeout: float):
        assert subscription == DEAD
        free = [m for m in self.messages if m not in self.held][: min(max_messages, self.per_pull)]
        self.held.update(free)
        return SimpleNamespace(
            received_messages=[
                SimpleNamespace(
                    ack_id=f"ack-{m}",
                    message=SimpleNamespace(
                        message_id=m, data=self.messages[m][0], attributes=self.messages[m][1]
                    ),
                )
                for m in free
            ]
        )

    def modify_ack_deadline(
        self, *, subscription: str, ack_ids: list[str], ack_deadline_seconds: int
    ):
        assert subscription == DEAD and ack_deadline_seconds == 0
        for ack_id in ack_ids:
            self.held.discard(ack_id.removeprefix("ack-"))

    def acknowledge(self, *, subscription: str, ack_ids: list[str]):
        assert subscription == DEAD
        for ack_id in ack_ids:
            message_id = ack_id.removeprefix("ack-")
            self.held.discard(message_id)
            del self.messages[message_id]

    def get_subscription(self, *, subscription: str):
        if subscription not in self.subscriptions:
            raise api_errors.NotFound(f"Subscription does not exist: {subscription}")
        return SimpleNamespace(topic=self.subscriptions[subscription])

    def publish(self, topic: str, data: bytes, **attributes: str):
        if topic in self.failing_topics:
            future = SimpleNamespace(result=lambda timeout: (_ for _ in ()).throw(TimeoutError()))
            return future
        self.published.append((topic, data, attributes))
        return SimpleNamespace(result=lambda timeout: f"new-{len(self.published)}")


def _topic(name: str) -> str:
    return f"projects/{PROJECT}/topics/{name}"


def _subscription(name: str) -> str:
    return f"projects/{PROJECT}/subscriptions/{name}"


@pytest.fixture
def pubsub() -> FakePubSub:
    """Five dead letters: two of record-image, one of compress-fits, one of a subscription
    that is gone, one published to dead-letter by hand (no source)."""
    fake = FakePubSub(
        subscriptions={
            _subscription("record-image"): _topic("record-image"),
            _subscription("compress-fits"): _topic("compress-fits"),
        }
    )
    fake.add("11", b'{"name": "a.fits"}', _dead_attributes("record-image", bucket="in"))
    fake.add("12", b'{"name": "b.fits"}', _dead_attributes("record-image", bucket="in"))
    fake.add("13", b'{"name": "c.fits"}', _dead_attributes("compress-fits"))
    fake.add("14", b'{"name": "d.fits"}', _dead_attributes("retired-probe"))
    fake.add("15", b"by hand", _dead_attributes(None, note="x"))
    return fake


def test_redrive_attributes_drop_the_dead_letter_ones_and_say_where_it_came_from():
    attributes = _dead_attributes("record-image", bucket="in", objectId="PAN001/x.fits")
    assert attributes[SOURCE_SUBSCRIPTION] == "record-image"
    assert redrive_attributes(attributes, "11") == {
        "bucket": "in",
        "objectId": "PAN001/x.fits",
        REDRIVEN_FROM: "dead-letter",
        REDRIVEN_MESSAGE_ID: "11",
    }
    assert attributes[SOURCE_SUBSCRIPTION] == "record-image"  # the input is left alone


@pytest.mark.parametrize(
    ("attributes", "path"),
    [
        ({SOURCE_SUBSCRIPTION: "record-image"}, f"projects/{PROJECT}/subscriptions/record-image"),
        (
            {SOURCE_SUBSCRIPTION: "record-image", SOURCE_PROJECT: "other"},
            "projects/other/subscriptions/record-image",
        ),
        ({SOURCE_SUBSCRIPTION: "projects/p/subscriptions/s"}, "projects/p/subscriptions/s"),
        ({SOURCE_SUBSCRIPTION: ""}, None),
        ({}, None),
    ],
)
def test_the_source_subscription_path(attributes, path):
    assert source_subscription_path(attributes, PROJECT) == path


def test_listing_returns_every_dead_letter_and_leaves_them_in_place(pubsub: FakePubSub):
    assert pubsub.per_pull < len(pubsub.messages)  # several pulls are needed

    letters = list_dead_letters(pubsub, PROJECT)

    assert [x.message_id for x in letters] == ["11", "12", "13", "14", "15"]
    assert letters[0].source_subscription == "record-image"
    assert letters[0].to_json()["data"] == '{"name": "a.fits"}'
    assert len(pubsub.messages) == 5 and pubsub.held == set()


def test_listing_with_acknowledge_drops_what_it_returns(pubsub: FakePubSub):
    letters = list_dead_letters(pubsub, PROJECT, limit=3, acknowledge=True)
    assert [x.message_id for x in letters] == ["11", "12", "13"]
    assert sorted(pubsub.messages) == ["14", "15"] and pubsub.held == set()


def test_redrive_sends_each_dead_letter_to_the_topic_of_its_subscription(pubsub: FakePubSub):
    original = dict(pubsub.messages)

    summary = redrive(pubsub, pubsub, PROJECT)

    assert summary.redriven == {"record-image": 2, "compress-fits": 1}
    assert summary.total == 3 and not summary.complete
    assert set(summary.left_in_place) == {"14", "15"}
    assert "retired-probe" in summary.left_in_place["14"]
    assert SOURCE_SUBSCRIPTION in summary.left_in_place["15"]
    by_id = {
        attributes[REDRIVEN_MESSAGE_ID]: (t, d, attributes) for t, d, attributes in pubsub.published
    }
    assert sorted(by_id) == ["11", "12", "13"]
    for message_id, (topic, data, attributes) in by_id.items():
        source = original[message_id][1][SOURCE_SUBSCRIPTION]
        assert topic == _topic(source)
        assert data == original[message_id][0]
        assert attributes == redrive_attributes(original[message_id][1], message_id)
        assert not any(key.startswith("CloudPubSubDeadLetter") for key in attributes)
    assert by_id["11"][2]["bucket"] == "in"
    # The redriven ones are acknowledged; the others stay, free to be pulled again.
    assert sorted(pubsub.messages) == ["14", "15"] and pubsub.held == set()


def test_redrive_of_one_message_touches_no_other(pubsub: FakePubSub):
    summary = redrive(pubsub, pubsub, PROJECT, message_id="13")

    assert summary.redriven == {"compress-fits": 1} and summary.complete
    assert [attributes[REDRIVEN_MESSAGE_ID] for _, _, attributes in pubsub.published] == ["13"]
    assert sorted(pubsub.messages) == ["11", "12", "14", "15"] and pubsub.held == set()


def test_redrive_of_an_unknown_message_id_reports_it_and_changes_nothing(pubsub: FakePubSub):
    summary = redrive(pubsub, pubsub, PROJECT, message_id="99")
    assert summary.not_found == ["99"] and summary.redriven == {}
    assert pubsub.published == [] and len(pubsub.messages) == 5 and pubsub.held == set()


def test_a_failed_publish_leaves_the_dead_letter_in_place(pubsub: FakePubSub):
    pubsub.failing_topics.add(_topic("compress-fits"))
    summary = redrive(pubsub, pubsub, PROJECT)
    assert summary.redriven == {"record-image": 2}
    assert "publish to" in summary.left_in_place["13"]
    assert "13" in pubsub.messages and pubsub.held == set()


def test_a_dead_letter_built_from_a_pull_keeps_its_bytes_and_time():
    published = SimpleNamespace(isoformat=lambda: "2026-11-21T03:07:30+00:00")
    received = SimpleNamespace(
        ack_id="a",
        message=SimpleNamespace(
            message_id=7, data=b"\xff", attributes={"k": "v"}, publish_time=published
        ),
    )
    letter = DeadLetter.from_received(received)
    assert letter.message_id == "7" and letter.data == b"\xff"
    assert letter.publish_time == "2026-11-21T03:07:30+00:00"
    assert letter.to_json()["data"] == "\ufffd"


def test_report_prints_one_json_line_per_dead_letter_and_keeps_them(pubsub: FakePubSub):
    out, err = io.StringIO(), io.StringIO()
    assert report(pubsub, None, PROJECT, out=out, err=err) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["message_id"] for x in lines] == ["11", "12", "13", "14", "15"]
    assert "5 dead letter(s) left in place" in err.getvalue()
    assert len(pubsub.messages) == 5


@pytest.mark.parametrize(
    ("redrive_arg", "status", "left"),
    [(EVERY, 1, ["14", "15"]), ("12", 0, ["11", "13", "14", "15"]), ("99", 2, None)],
)
def test_report_redrive_exit_status(pubsub: FakePubSub, redrive_arg, status, left):
    out, err = io.StringIO(), io.StringIO()
    assert report(pubsub, pubsub, PROJECT, redrive=redrive_arg, out=out, err=err) == status
    assert set(json.loads(out.getvalue())) == {"redriven", "left_in_place", "not_found"}
    assert sorted(pubsub.messages) == (left if left is not None else ["11", "12", "13", "14", "15"])
    if status == 2:
        assert "no dead letter with message id 99" in err.getvalue()


def test_a_subscription_whose_topic_was_deleted_keeps_its_dead_letters(pubsub: FakePubSub):
    pubsub.subscriptions[_subscription("record-image")] = "_deleted-topic_"
    summary = redrive(pubsub, pubsub, PROJECT, message_id="11")
    assert "11" in summary.left_in_place and summary.redriven == {}
    assert pubsub.published == [] and "11" in pubsub.messages and pubsub.held == set()
