"""Pub/Sub as a :class:`~panoptes_network.pipeline.ports.MessageBus`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.cloud import pubsub_v1

__all__ = ["PubSubBus"]


class PubSubBus:
    """Publishes JSON messages to topics of one project.

    Parameters
    ----------
    project : str
        Google Cloud project id.
    publisher : google.cloud.pubsub_v1.PublisherClient, optional
        A client made once per process; one is made when not given.
    timeout : float
        Seconds to wait for the publish to be confirmed.
    """

    def __init__(
        self,
        project: str,
        publisher: pubsub_v1.PublisherClient | None = None,
        timeout: float = 30.0,
    ):
        self.project = project
        self.publisher = publisher or pubsub_v1.PublisherClient()
        self.timeout = timeout

    def publish(self, topic: str, payload: Mapping[str, Any], **attributes: str) -> str:
        """Publish ``payload`` as JSON and wait until Pub/Sub has it; return the message id."""
        data = json.dumps(payload, sort_keys=True).encode("utf-8")
        future = self.publisher.publish(
            self.publisher.topic_path(self.project, topic), data, **attributes
        )
        return future.result(timeout=self.timeout)
