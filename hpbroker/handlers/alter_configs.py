"""AlterConfigs (key 33), versions 0-1: replace a topic's config overrides, or the dynamic configs
of the broker (its id) or of the cluster (the broker resource ""). Non-incremental, as Kafka: the
request's set replaces all existing ones of the resource.

Errors, per resource, as Kafka's: a resource named twice, a config named twice, a null value, an
unknown resource type, another broker's id -> INVALID_REQUEST; a broker config change Kafka
refuses (read-only, per-broker only, bad value: hpbroker/configdef/dynamic.py) ->
INVALID_REQUEST with Kafka's text; unknown topic -> UNKNOWN_TOPIC_OR_PARTITION; unknown topic
config or bad value -> INVALID_CONFIG. ``validate_only`` changes nothing.
"""

from hpbroker.broker import authorized
from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import (
    ConfigError,
    DynamicConfigRefused,
    validate_broker_dynamic_configs,
    validate_topic_configs,
)
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation

API_KEY = 33
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(CONTROLLER)

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4


class InvalidRequest(Exception):
    """Answered INVALID_REQUEST with its text."""


def per_broker_resource(name: str, node_id: int) -> bool:
    """A BROKER resource's name: "" (the cluster-wide defaults: False) or this broker's id
    (True); another name is InvalidRequest, as Kafka's ConfigAdminManager words it."""
    if name == "":
        return False
    try:
        n = int(name)
    except ValueError:
        raise InvalidRequest(f"Node id must be an integer, but it is: {name}") from None
    if n != node_id:
        raise InvalidRequest(f"Unexpected broker id, expected {node_id}, but received {name}")
    return True


async def _alter_broker(broker, name, configs, validate_only):
    per_broker = per_broker_resource(name, broker.node.node_id)
    new = validate_broker_dynamic_configs(broker.config, configs, per_broker)
    if not validate_only:
        await broker.controller.set_broker_configs(new, cluster_default=not per_broker)


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    validate_only = request.get("validate_only", False)
    named = {}
    for r in request["resources"]:
        key = (r["resource_type"], r["resource_name"])
        named[key] = named.get(key, 0) + 1
    out = []
    for r in request["resources"]:
        rtype, rname = r["resource_type"], r["resource_name"]
        configs = {c["name"]: c["value"] for c in r["configs"]}
        code, message = 0, None
        denied = authorized.config_denied(ctx, rtype, rname, Operation.ALTER_CONFIGS)
        if denied:
            out.append(
                {
                    "error_code": denied,
                    "error_message": "Authorization failed.",
                    "resource_type": rtype,
                    "resource_name": rname,
                }
            )
            continue
        try:
            if named[(rtype, rname)] > 1:
                raise InvalidRequest("Each resource must appear at most once.")
            if len(configs) < len(r["configs"]):
                raise InvalidRequest("Error due to duplicate config keys")
            nulls = [n for n, v in configs.items() if v is None]
            if nulls:
                raise InvalidRequest(f"Null value not supported for : {', '.join(nulls)}")
            if rtype == RESOURCE_TOPIC:
                if rname == "":
                    raise InvalidRequest("Default topic resources are not allowed.")
                if rname not in broker.metadata.topics:
                    code, message = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {rname} does not exist"
                else:
                    checked = validate_topic_configs(configs, broker.config)
                    if not validate_only:
                        await broker.controller.set_topic_configs(rname, checked)
            elif rtype == RESOURCE_BROKER:
                await _alter_broker(broker, rname, configs, validate_only)
            else:
                raise InvalidRequest(f"Unknown resource type {rtype}")
        except (InvalidRequest, DynamicConfigRefused) as exc:
            code, message = ErrorCode.INVALID_REQUEST, str(exc)
        except ConfigError as exc:
            code, message = ErrorCode.INVALID_CONFIG, str(exc)
        except ControllerError as exc:
            code, message = exc.code, exc.message
        out.append({"error_code": code, "error_message": message, "resource_type": rtype, "resource_name": rname})
    return {"throttle_time_ms": 0, "responses": out}
