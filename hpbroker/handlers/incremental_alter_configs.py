"""IncrementalAlterConfigs (key 44), versions 0-1: change single configs of a topic or of the
broker, leaving every other override as it is (KIP-339; what ``kafka-configs --alter`` and
AdminClient ``incremental_alter_configs`` send).

Operations (Kafka's AlterConfigOp.OpType), applied in request order to the current overrides
(a topic's, or the broker's dynamic configs):
- SET 0: the value becomes the override.
- DELETE 1: the override goes; the topic falls back to the broker's value, the broker to its
  static config or default.
- APPEND 2 / SUBTRACT 3 (list configs only, e.g. ``cleanup.policy``): add the listed values not
  yet present / remove them. The list starts from the override, else from the config's default,
  as Kafka's controller does (ConfigurationControlManager).
The result is then checked as a whole, like AlterConfigs: nothing changes unless every config
of the resource is valid. A BROKER resource is this broker's id (its own dynamic configs) or ""
(the cluster-wide defaults).

Errors, per resource, as Kafka: a resource named twice -> INVALID_REQUEST for each; a config
named twice in one resource, a null value for SET/APPEND/SUBTRACT, an unknown operation or
resource type, another broker's id -> INVALID_REQUEST; a broker config change Kafka refuses
(read-only, per-broker only, bad value: hpbroker/configdef/dynamic.py) -> INVALID_REQUEST with
Kafka's text; APPEND/SUBTRACT of a non-list config, an unknown topic config name or a bad topic
config value -> INVALID_CONFIG; unknown topic -> UNKNOWN_TOPIC_OR_PARTITION. ``validate_only``
checks everything and changes nothing.
"""

from __future__ import annotations

from hpbroker.broker import authorized
from hpbroker.broker.interface import ControllerError
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import (
    BROKER_CONFIGS,
    TOPIC_CONFIGS,
    TYPE_LIST,
    ConfigError,
    DynamicConfigRefused,
    validate_broker_dynamic_configs,
    validate_topic_configs,
)
from hpbroker.handlers.alter_configs import InvalidRequest, per_broker_resource
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation

API_KEY = 44
MIN_VERSION, MAX_VERSION = 0, 1
ROUTE = Route(CONTROLLER)

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
_OP_NAMES = {SET: "SET", DELETE: "DELETE", APPEND: "APPEND", SUBTRACT: "SUBTRACT"}


def _parts(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def apply_ops(current: dict[str, str], ops: list[dict], definitions: dict) -> dict[str, str | None]:
    """The overrides after ``ops`` ([{name, config_operation, value}]); a deleted name maps to
    None. ``definitions`` (TOPIC_CONFIGS or BROKER_CONFIGS) give list types and defaults."""
    out: dict[str, str | None] = dict(current)
    seen = set()
    for op in ops:
        name, kind, value = op["name"], op["config_operation"], op["value"]
        if name in seen:
            raise InvalidRequest(f"Error due to duplicate config keys: {name}")
        seen.add(name)
        if kind not in _OP_NAMES:
            raise InvalidRequest(f"Unknown operation type {kind} for config {name}")
        if kind != DELETE and value is None:
            raise InvalidRequest(f"Null value not supported for : {name}")
        if kind == SET:
            out[name] = value
        elif kind == DELETE:
            out[name] = None
        else:
            d = definitions.get(name)
            if d is None:
                raise ConfigError(f"Unknown config name: {name}")
            if d.config_type != TYPE_LIST:
                raise ConfigError(f"Can't {_OP_NAMES[kind]} to key {name} because its type is not LIST.")
            items = _parts(out[name] if out.get(name) is not None else d.default)
            if kind == APPEND:
                items += [v for v in dict.fromkeys(_parts(value)) if v not in items]
            else:
                drop = set(_parts(value))
                items = [v for v in items if v not in drop]
            out[name] = ",".join(items)
    return out


async def _alter_topic(broker, name: str, ops, validate_only: bool) -> tuple[int, str | None]:
    if name == "":
        raise InvalidRequest("Default topic resources are not allowed.")
    info = broker.metadata.topics.get(name)
    if info is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"Topic {name} does not exist"
    changed = apply_ops(info.configs, ops, TOPIC_CONFIGS)
    for cname, value in changed.items():
        if value is None and cname not in TOPIC_CONFIGS:
            raise ConfigError(f"Unknown topic config name: {cname}")
    checked = validate_topic_configs({k: v for k, v in changed.items() if v is not None}, broker.config)
    if not validate_only and checked != info.configs:
        await broker.controller.set_topic_configs(name, checked)
    return 0, None


async def _alter_broker(broker, name: str, ops, validate_only: bool) -> tuple[int, str | None]:
    per_broker = per_broker_resource(name, broker.node.node_id)
    current = broker.config.dynamic if per_broker else broker.config.dynamic_default
    checked = validate_broker_dynamic_configs(broker.config, apply_ops(current, ops, BROKER_CONFIGS), per_broker)
    if not validate_only and checked != current:
        await broker.controller.set_broker_configs(checked, cluster_default=not per_broker)
    return 0, None


async def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    validate_only = request.get("validate_only", False)
    resources = request["resources"]
    named = {}
    for r in resources:
        key = (r["resource_type"], r["resource_name"])
        named[key] = named.get(key, 0) + 1
    out = []
    for r in resources:
        rtype, rname = r["resource_type"], r["resource_name"]
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
                raise InvalidRequest(f"Duplicate resource {rname!r} of type {rtype}")
            if rtype == RESOURCE_TOPIC:
                code, message = await _alter_topic(broker, rname, r["configs"], validate_only)
            elif rtype == RESOURCE_BROKER:
                code, message = await _alter_broker(broker, rname, r["configs"], validate_only)
            else:
                code, message = ErrorCode.INVALID_REQUEST, f"Unsupported resource type {rtype}"
        except (InvalidRequest, DynamicConfigRefused) as exc:
            code, message = ErrorCode.INVALID_REQUEST, str(exc)
        except ConfigError as exc:
            code, message = ErrorCode.INVALID_CONFIG, str(exc)
        except ControllerError as exc:
            code, message = exc.code, exc.message
        out.append({"error_code": code, "error_message": message, "resource_type": rtype, "resource_name": rname})
    return {"throttle_time_ms": 0, "responses": out}
