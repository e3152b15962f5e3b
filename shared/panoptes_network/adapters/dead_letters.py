"""Dead letters: list the messages Pub/Sub gave up on, and send them back where they came from.

A push subscription with a dead-letter policy (``infra/resources.yaml``) moves a message it
could not deliver after ``max_delivery_attempts`` to the ``dead-letter`` topic, whose pull
subscription ``dead-letter`` keeps it. Pub/Sub adds ``CloudPubSubDeadLetter*`` attributes;
``CloudPubSubDeadLetterSourceSubscription`` names the subscription that gave up.

- :func:`list_dead_letters` pulls them and hands them back at once (ack deadline 0), so they
  stay in the subscription (or acknowledges them, which drops them, when asked).
- :func:`redrive` publishes a dead letter's data and original attributes again to the topic of
  its source subscription (looked up with ``get_subscription``), without the
  ``CloudPubSubDeadLetter*`` attributes and with ``redriven_from`` (the dead-letter
  subscription) and ``redriven_message_id`` (the dead letter's message id) added, and then
  acknowledges the dead letter. A dead letter whose source subscription no longer exists is
  left in place and reported. It returns a :class:`RedriveSummary`.

The clients are passed in (``google.cloud.pubsub_v1`` ``SubscriberClient`` and
``PublisherClient``), so the same code runs against the emulator and Google Cloud. The rules
about attributes and paths (:func:`redrive_attributes`, :func:`source_subscription_path`) are
plain functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.api_core import exceptions as api_errors

__all__ = [
    "DEAD_LETTER_SUBSCRIPTION",
    "SOURCE_SUBSCRIPTION",
    "SOURCE_PROJECT",
    "REDRIVEN_FROM",
    "REDRIVEN_MESSAGE_ID",
    "DeadLetter",
    "RedriveSummary",
    "redrive_attributes",
    "source_subscription_path",
    "list_dead_letters",
    "redrive",
]

#: The pull subscription of the ``dead-letter`` topic (``infra/resources.yaml``).
DEAD_LETTER_SUBSCRIPTION = "dead-letter"
#: The prefix of the attributes Pub/Sub adds when it dead-letters a message.
DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
#: The subscription that gave up on the message (its id, e.g. ``record-image``).
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
#: The project of that subscription (set by Google Cloud; the emulator may leave it out).
SOURCE_PROJECT = "CloudPubSubDeadLetterSourceSubscriptionProject"
#: Added on redrive: the dead-letter subscription the message came back from.
REDRIVEN_FROM = "redriven_from"
#: Added on redrive: the message id of the dead letter.
REDRIVEN_MESSAGE_ID = "redriven_message_id"
#: What ``Subscription.topic`` reads once the subscription's topic was deleted.
DELETED_TOPIC = "_deleted-topic_"


class Subscriber(Protocol):
    """The calls of ``google.cloud.pubsub_v1.SubscriberClient`` used here."""

    def pull(self, *, subscription: str, max_messages: int, timeout: float) -> Any: ...

    def modify_ack_deadline(
        self, *, subscription: str, ack_ids: list[str], ack_deadline_seconds: int
    ) -> Any: ...

    def acknowledge(self, *, subscription: str, ack_ids: list[str]) -> Any: ...

    def get_subscription(self, *, subscription: str) -> Any: ...


class Publisher(Protocol):
    """The call of ``google.cloud.pubsub_v1.PublisherClient`` used here."""

    def publish(self, topic: str, data: bytes, **attributes: str) -> Any: ...


def redrive_attributes(
    attributes: Mapping[str, str],
    message_id: str,
    dead_letter_subscription: str = DEAD_LETTER_SUBSCRIPTION,
) -> dict[str, str]:
    """Return the attributes a dead letter is published again with.

    Parameters
    ----------
    attributes : mapping of str to str
        The dead letter's attributes.
    message_id : str
        The dead letter's message id.
    dead_letter_subscription : str
        The subscription it is taken from.

    Returns
    -------
    dict of str to str
        The original attributes without those starting ``CloudPubSubDeadLetter``, with
        ``redriven_from`` and ``redriven_message_id`` set.
    """
    kept = {k: v for k, v in attributes.items() if not k.startswith(DEAD_LETTER_PREFIX)}
    kept[REDRIVEN_FROM] = dead_letter_subscription
    kept[REDRIVEN_MESSAGE_ID] = message_id
    return kept


def source_subscription_path(attributes: Mapping[str, str], project: str) -> str | None:
    """Return the full path of the subscription that dead-lettered a message.

    Parameters
    ----------
    attributes : mapping of str to str
        The dead letter's attributes.
    project : str
        The project to assume when the attributes name none.

    Returns
    -------
    str or None
        ``projects/<project>/subscriptions/<id>`` (the project of ``SOURCE_PROJECT`` when set),
        the attribute itself when it is already a full path, or None when the message carries
        no source subscription (it was published to the topic by hand).
    """
    source = attributes.get(SOURCE_SUBSCRIPTION, "").strip()
    if not source:
        return None
    if source.startswith("projects/"):
        return source
    return f"projects/{attributes.get(SOURCE_PROJECT) or project}/subscriptions/{source}"


def _short(path: str) -> str:
    """Return the last part of a resource path: the topic or subscription id."""
    return path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter subscription.

    Attributes
    ----------
    ack_id : str
        The id to acknowledge it with (valid while it is held).
    message_id : str
        Its message id on the dead-letter topic.
    data : bytes
        The original data.
    attributes : dict of str to str
        The original attributes and Pub/Sub's ``CloudPubSubDeadLetter*`` ones.
    publish_time : str or None
        When it was published to the dead-letter topic (ISO 8601).
    """

    ack_id: str
    message_id: str
    data: bytes
    attributes: dict[str, str]
    publish_time: str | None = None

    @classmethod
    def from_received(cls, received: Any) -> DeadLetter:
        """Build one from a ``ReceivedMessage`` of a pull.

        Parameters
        ----------
        received : google.pubsub_v1.types.ReceivedMessage
            Anything with ``ack_id`` and ``message`` (``message_id``, ``data``,
            ``attributes``, ``publish_time``).

        Returns
        -------
        DeadLetter
            The message.
        """
        message = received.message
        published = getattr(message, "publish_time", None)
        return cls(
            ack_id=received.ack_id,
            message_id=str(message.message_id),
            data=bytes(message.data),
            attributes=dict(message.attributes),
            publish_time=published.isoformat() if hasattr(published, "isoformat") else None,
        )

    @property
    def source_subscription(self) -> str | None:
        """The id of the subscription that gave up on it, or None."""
        return self.attributes.get(SOURCE_SUBSCRIPTION) or None

    def to_json(self) -> dict[str, Any]:
        """Return it as a JSON-ready dict (the data as UTF-8 text, bad bytes replaced)."""
        return {
            "message_id": self.message_id,
            "source_subscription": self.source_subscription,
            "publish_time": self.publish_time,
            "attributes": dict(self.attributes),
            "data": self.data.decode("utf-8", "replace"),
        }


@dataclass
class RedriveSummary:
    """What a redrive did.

    Attributes
    ----------
    redriven : dict of str to int
        Topic id to the number of dead letters published to it again (and acknowledged).
    left_in_place : dict of str to str
        Message id to why it stays in the dead-letter subscription (no source subscription,
        source subscription or its topic gone, publish failed).
    not_found : list of str
        Message ids asked for that the dead-letter subscription did not hold.
    """

    redriven: dict[str, int] = field(default_factory=dict)
    left_in_place: dict[str, str] = field(default_factory=dict)
    not_found: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """The number of dead letters published again."""
        return sum(self.redriven.values())

    @property
    def complete(self) -> bool:
        """Whether everything asked for was redriven."""
        return not self.left_in_place and not self.not_found

    def to_json(self) -> dict[str, Any]:
        """Return it as a JSON-ready dict."""
        return {
            "redriven": dict(self.redriven),
            "left_in_place": dict(self.left_in_place),
            "not_found": list(self.not_found),
        }


def _pull(
    subscriber: Subscriber,
    path: str,
    limit: int,
    timeout: float,
    until: str | None = None,
) -> list[DeadLetter]:
    """Pull up to ``limit`` messages and hold them (the caller acks or releases each one).

    Pulls again until a pull brings nothing new, ``limit`` is reached or message ``until`` is
    among them. Held messages are not delivered again before their ack deadline, so every
    pull brings new ones.
    """
    held: dict[str, DeadLetter] = {}
    while len(held) < limit:
        try:
            response = subscriber.pull(
                subscription=path, max_messages=min(limit - len(held), 1000), timeout=timeout
            )
        except api_errors.DeadlineExceeded:
            break  # Google Cloud may wait out the timeout when there is nothing to pull
        fresh = [DeadLetter.from_received(r) for r in response.received_messages]
        fresh = [letter for letter in fresh if letter.message_id not in held]
        if not fresh:
            break
        held.update((letter.message_id, letter) for letter in fresh)
        if until is not None and until in held:
            break
    return list(held.values())


def _release(subscriber: Subscriber, path: str, letters: Iterable[DeadLetter]) -> None:
    """Hand messages back at once (ack deadline 0): they stay in the subscription."""
    ack_ids = [letter.ack_id for letter in letters]
    if ack_ids:
        subscriber.modify_ack_deadline(subscription=path, ack_ids=ack_ids, ack_deadline_seconds=0)


def _acknowledge(subscriber: Subscriber, path: str, letters: Iterable[DeadLetter]) -> None:
    ack_ids = [letter.ack_id for letter in letters]
    if ack_ids:
        subscriber.acknowledge(subscription=path, ack_ids=ack_ids)


def list_dead_letters(
    subscriber: Subscriber,
    project: str,
    *,
    subscription: str = DEAD_LETTER_SUBSCRIPTION,
    limit: int = 100,
    acknowledge: bool = False,
    timeout: float = 10.0,
) -> list[DeadLetter]:
    """Return up to ``limit`` dead letters, leaving them in place unless told to drop them.

    Parameters
    ----------
    subscriber : SubscriberClient
        A Pub/Sub subscriber client (emulator or Google Cloud).
    project : str
        The project of the dead-letter subscription.
    subscription : str
        Its id.
    limit : int
        The most messages to return.
    acknowledge : bool
        Acknowledge them (they are gone afterwards) instead of handing them back.
    timeout : float
        Seconds each pull may take.

    Returns
    -------
    list of DeadLetter
        The messages, in the order pulled.
    """
    path = f"projects/{project}/subscriptions/{subscription}"
    letters = _pull(subscriber, path, limit, timeout)
    if acknowledge:
        _acknowledge(subscriber, path, letters)
    else:
        _release(subscriber, path, letters)
    return letters


def _topic_of(subscriber: Subscriber, subscription_path: str) -> str | None:
    """Return a subscription's topic path; None when it (or its topic) no longer exists."""
    try:
        topic = subscriber.get_subscription(subscription=subscription_path).topic
    except api_errors.NotFound:
        return None
    return None if not topic or topic == DELETED_TOPIC else topic


def redrive(
    subscriber: Subscriber,
    publisher: Publisher,
    project: str,
    *,
    message_id: str | None = None,
    subscription: str = DEAD_LETTER_SUBSCRIPTION,
    limit: int = 1000,
    timeout: float = 30.0,
) -> RedriveSummary:
    """Publish dead letters again to the topics of their source subscriptions.

    Each one is acknowledged only after its publish is confirmed; the others of the pull are
    handed back at once.

    Parameters
    ----------
    subscriber : SubscriberClient
        A Pub/Sub subscriber client (emulator or Google Cloud).
    publisher : PublisherClient
        A Pub/Sub publisher client.
    project : str
        The project of the dead-letter subscription, and of source subscriptions whose
        dead letters name no project.
    message_id : str, optional
        Redrive only this dead letter (default: every one, up to ``limit``).
    subscription : str
        The dead-letter subscription's id.
    limit : int
        The most dead letters to look at.
    timeout : float
        Seconds each pull and each publish may take.

    Returns
    -------
    RedriveSummary
        Counts per topic, what was left in place and why, ids not found.
    """
    path = f"projects/{project}/subscriptions/{subscription}"
    letters = _pull(subscriber, path, limit, timeout, until=message_id)
    chosen = [x for x in letters if message_id is None or x.message_id == message_id]
    summary = RedriveSummary()
    if message_id is not None and not chosen:
        summary.not_found.append(message_id)
    topics: dict[str, str | None] = {}
    done: list[DeadLetter] = []
    try:
        for letter in chosen:
            source = source_subscription_path(letter.attributes, project)
            if source is None:
                summary.left_in_place[letter.message_id] = f"no {SOURCE_SUBSCRIPTION} attribute"
                continue
            if source not in topics:
                topics[source] = _topic_of(subscriber, source)
            topic = topics[source]
            if topic is None:
                summary.left_in_place[letter.message_id] = (
                    f"source subscription {source} (or its topic) no longer exists"
                )
                continue
            attributes = redrive_attributes(letter.attributes, letter.message_id, subscription)
            try:
                publisher.publish(topic, letter.data, **attributes).result(timeout=timeout)
            except (api_errors.GoogleAPIError, TimeoutError) as exc:  # reported; it stays
                summary.left_in_place[letter.message_id] = f"publish to {topic} failed: {exc}"
                continue
            _acknowledge(subscriber, path, [letter])
            done.append(letter)
            summary.redriven[_short(topic)] = summary.redriven.get(_short(topic), 0) + 1
    finally:
        acked = {letter.message_id for letter in done}
        _release(subscriber, path, [x for x in letters if x.message_id not in acked])
    return summary
