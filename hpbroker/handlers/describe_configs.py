"""DescribeConfigs (key 32), versions 0-3: topic (resource type 2) and broker (4) configs.

Each value carries its source as Kafka reports it: TOPIC_CONFIG for a topic override,
STATIC_BROKER_CONFIG / DYNAMIC_BROKER_CONFIG when the broker property behind it was set, else
DEFAULT_CONFIG. A missing topic -> UNKNOWN_TOPIC_OR_PARTITION; another broker id ->
INVALID_REQUEST; other resource types -> INVALID_REQUEST.
"""
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import (
    BROKER_CONFIGS,
    SOURCE_DEFAULT_CONFIG,
    SOURCE_TOPIC_CONFIG,
    TOPIC_CONFIGS,
)
from hpbroker.protocol.errors import ErrorCode

API_KEY = 32
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4


def _entry(name, value, source, read_only, config_type, synonyms):
    return {
        "name": name, "value": value, "read_only": read_only, "is_default": source == SOURCE_DEFAULT_CONFIG,
        "config_source": source, "is_sensitive": False, "synonyms": synonyms, "config_type": config_type,
        "documentation": None,
    }


def topic_configs(broker, info, keys, include_synonyms):
    out = []
    for name, d in TOPIC_CONFIGS.items():
        if keys is not None and name not in keys:
            continue
        default_value, default_source = broker.config.topic_default(name)
        if name in info.configs:
            value, source = info.configs[name], SOURCE_TOPIC_CONFIG
        else:
            value, source = default_value, default_source
        synonyms = []
        if include_synonyms:
            if name in info.configs:
                synonyms.append({"name": name, "value": value, "source": SOURCE_TOPIC_CONFIG})
            if d.broker_property and default_source != SOURCE_DEFAULT_CONFIG:
                prop = d.broker_property
                derived = broker.config.from_synonym(prop)
                if derived is not None and not broker.config.given(prop):
                    # set in coarser units (log.retention.hours=24): name the property as given
                    prop = derived[1]
                    synonyms.append({"name": prop, "value": broker.config.raw(prop), "source": default_source})
                else:
                    synonyms.append({"name": prop, "value": default_value, "source": default_source})
            synonyms.append({"name": d.broker_property or name, "value": d.default, "source": SOURCE_DEFAULT_CONFIG})
        out.append(_entry(name, value, source, False, d.config_type, synonyms))
    return out


def broker_configs(broker, keys, include_synonyms):
    out = []
    for name, d in BROKER_CONFIGS.items():
        if keys is not None and name not in keys:
            continue
        value, source = broker.config.raw(name), broker.config.source(name)
        synonyms = [{"name": name, "value": value, "source": source}] if include_synonyms else []
        out.append(_entry(name, value, source, d.read_only, d.config_type, synonyms))
    return out


def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    include_synonyms = request.get("include_synonyms", False)
    results = []
    for r in request["resources"]:
        rtype, rname = r["resource_type"], r["resource_name"]
        keys = set(r["configuration_keys"]) if r.get("configuration_keys") is not None else None
        res = {"error_code": 0, "error_message": None, "resource_type": rtype, "resource_name": rname, "configs": []}
        if rtype == RESOURCE_TOPIC:
            info = broker.metadata.topics.get(rname)
            if info is None:
                res["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                res["error_message"] = f"Topic {rname} does not exist"
            else:
                res["configs"] = topic_configs(broker, info, keys, include_synonyms)
        elif rtype == RESOURCE_BROKER:
            if rname not in ("", str(broker.node.node_id)):
                res["error_code"] = ErrorCode.INVALID_REQUEST
                res["error_message"] = f"Unexpected broker id, expected {broker.node.node_id} but received {rname}"
            else:
                res["configs"] = broker_configs(broker, keys, include_synonyms)
        else:
            res["error_code"] = ErrorCode.INVALID_REQUEST
            res["error_message"] = f"Unsupported resource type {rtype}"
        results.append(res)
    return {"throttle_time_ms": 0, "results": results}
