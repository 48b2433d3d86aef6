"""DeleteTopics (key 20), versions 0-3: unknown topic -> UNKNOWN_TOPIC_OR_PARTITION;
``delete.topic.enable=false`` -> TOPIC_DELETION_DISABLED; an internal topic -> INVALID_TOPIC_EXCEPTION
(``__consumer_offsets`` holds every group's state and its coordinators keep it open; Kafka's own
tools refuse it too). Parked fetches on the deleted partitions are woken and answer
UNKNOWN_TOPIC_OR_PARTITION. In a cluster, a broker that is not the controller answers NOT_CONTROLLER;
the controller answers once the topic is gone from its metadata (every live broker was told)."""

from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.metadata.topics import INTERNAL_TOPICS
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation, ResourceType

API_KEY = 20
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    results = []
    enabled = broker.config.get("delete.topic.enable")
    active = broker.controller.is_active
    for name in request["topic_names"]:
        message = None
        if not active:
            code, message = ErrorCode.NOT_CONTROLLER, "This is not the correct controller for this cluster."
        elif not ctx.authorize(Operation.DELETE, ResourceType.TOPIC, name):
            code = ErrorCode.TOPIC_AUTHORIZATION_FAILED
        elif not enabled:
            code = ErrorCode.TOPIC_DELETION_DISABLED
        elif name not in broker.metadata.topics:
            code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        elif name in INTERNAL_TOPICS:
            code = ErrorCode.INVALID_TOPIC_EXCEPTION
            message = f"Internal topic {name} cannot be deleted."
        else:
            try:
                await broker.controller.delete_topic(name)
                code = 0
            except ControllerError as exc:
                code, message = exc.code, exc.message
        results.append({"name": name, "error_code": code, "error_message": message})
    return {"throttle_time_ms": 0, "responses": results}
