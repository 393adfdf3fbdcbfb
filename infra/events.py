"""The EventBridge bus that carries Baton's lifecycle events."""

from __future__ import annotations

from aws_cdk import aws_events as events
from constructs import Construct

from baton.resource_names import event_bus_name


class Events(Construct):
    """A custom bus, ``<prefix>-bus``, for execution and step lifecycle events.

    S3 notifications arrive on the account's default bus, where trigger rules watch them;
    this bus carries only what Baton publishes, so consumers need not filter AWS events.
    """

    def __init__(self, scope: Construct, construct_id: str, *, resource_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=event_bus_name(resource_prefix))
