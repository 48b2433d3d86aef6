"""AlterConfigs (key 33), versions 0-1: replace a topic's config overrides, or set the broker's
dynamic configs. Non-incremental, as Kafka: the request's set replaces all existing overrides.

Unknown topic -> UNKNOWN_TOPIC_OR_PARTITION; unknown name or bad value -> INVALID_CONFIG; a
read-only broker config -> INVALID_CONFIG; ``validate_only`` changes nothing.
"""
from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import ConfigError, validate_broker_dynamic_configs, validate_topic_configs
from hpbroker.protocol.errors import ErrorCode
from hpbroker.server.connection_quotas import ConnectionLimits

API_KEY = 33
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(CONTROLLER)

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4


async def _alter_broker(broker, configs, validate_only):
    new = validate_broker_dynamic_configs(configs)
    ConnectionLimits.check_alter(broker.config, new)  # max.connections.per.ip 0 needs overrides
    if not validate_only:
        await broker.controller.set_broker_configs(new)


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    validate_only = request.get("validate_only", False)
    out = []
    for r in request["resources"]:
        rtype, rname = r["resource_type"], r["resource_name"]
        configs = {c["name"]: c["value"] for c in r["configs"]}
        code, message = 0, None
        try:
            if rtype == RESOURCE_TOPIC:
                if rname not in broker.metadata.topics:
                    code, message = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {rname} does not exist"
                else:
                    checked = validate_topic_configs(configs)
                    if not validate_only:
                        await broker.controller.set_topic_configs(rname, checked)
            elif rtype == RESOURCE_BROKER:
                if rname not in ("", str(broker.node.node_id)):
                    code, message = ErrorCode.INVALID_REQUEST, f"Unexpected broker id {rname}"
                else:
                    await _alter_broker(broker, configs, validate_only)
            else:
                code, message = ErrorCode.INVALID_REQUEST, f"Unsupported resource type {rtype}"
        except ConfigError as exc:
            code, message = ErrorCode.INVALID_CONFIG, str(exc)
        except ControllerError as exc:
            code, message = exc.code, exc.message
        out.append({"error_code": code, "error_message": message, "resource_type": rtype, "resource_name": rname})
    return {"throttle_time_ms": 0, "responses": out}
