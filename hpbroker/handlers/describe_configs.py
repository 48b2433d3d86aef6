"""DescribeConfigs (key 32), versions 0-3: topic (resource type 2) and broker (4) configs.

Each value carries its source as Kafka reports it: TOPIC_CONFIG for a topic override, then the
broker property behind it, DYNAMIC_BROKER_CONFIG (AlterConfigs on this broker's id),
DYNAMIC_DEFAULT_BROKER_CONFIG (on the cluster-wide resource ""), STATIC_BROKER_CONFIG, else
DEFAULT_CONFIG. The broker's id lists every property hpbroker defines and every dynamic one set
(custom and listener-prefixed names too); "" lists only the cluster-wide dynamic ones, as Kafka.
A password's value, and a custom config's, is never shown (null, is_sensitive), as Kafka.

A missing topic -> UNKNOWN_TOPIC_OR_PARTITION; another broker id -> INVALID_REQUEST; other
resource types -> INVALID_REQUEST.
"""

from hpbroker.broker import authorized
from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import CONTROLLER, Route
from hpbroker.config import (
    BROKER_CONFIGS,
    SOURCE_DEFAULT_CONFIG,
    SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG,
    SOURCE_TOPIC_CONFIG,
    TOPIC_CONFIGS,
    TYPE_UNKNOWN,
)
from hpbroker.configdef.dynamic import definition
from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import Operation

API_KEY = 32
MIN_VERSION, MAX_VERSION = 0, 3
ROUTE = Route(CONTROLLER)

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4


def _entry(name, value, source, read_only, config_type, synonyms, sensitive=False, doc=None):
    hide = (lambda v: None) if sensitive else (lambda v: v)
    return {
        "name": name,
        "value": hide(value),
        "read_only": read_only,
        "is_default": source == SOURCE_DEFAULT_CONFIG,
        "config_source": source,
        "is_sensitive": sensitive,
        "config_type": config_type,
        "documentation": doc,
        "synonyms": [{"name": n, "value": hide(v), "source": s} for n, v, s in synonyms],
    }


def topic_configs(broker, info, keys, include_synonyms, include_doc=False):
    out = []
    for name, d in TOPIC_CONFIGS.items():
        if keys is not None and name not in keys:
            continue
        if name in info.configs:
            value, source = info.configs[name], SOURCE_TOPIC_CONFIG
        else:
            value, source = broker.config.topic_default(name)
        synonyms = []
        if include_synonyms:
            if name in info.configs:
                synonyms.append((name, value, SOURCE_TOPIC_CONFIG))
            synonyms += broker.config.topic_synonyms(name)
        out.append(
            _entry(name, value, source, False, d.config_type, synonyms, d.sensitive, d.doc if include_doc else None)
        )
    return out


def broker_configs(broker, keys, include_synonyms, cluster_default, include_doc=False):
    """This broker's configs, or (``cluster_default``) the cluster-wide dynamic ones only."""
    config = broker.config
    names = (
        list(config.dynamic_default)
        if cluster_default
        else (list(BROKER_CONFIGS) + [n for n in (*config.dynamic_default, *config.dynamic) if n not in BROKER_CONFIGS])
    )
    out = []
    for name in dict.fromkeys(names):
        if keys is not None and name not in keys:
            continue
        d = definition(name)  # of the base of a listener-prefixed name too; None: a custom config
        if cluster_default:
            value, source = config.dynamic_default[name], SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG
        else:
            value, source = config.value_and_source(name)
        synonyms = config.synonyms(name, cluster_default_only=cluster_default) if include_synonyms else []
        read_only = name not in BROKER_CONFIGS or BROKER_CONFIGS[name].read_only  # Kafka's AllDynamicConfigs
        out.append(
            _entry(
                name,
                value,
                source,
                read_only,
                d.config_type if d is not None else TYPE_UNKNOWN,
                synonyms,
                d is None or d.sensitive,
                d.doc if include_doc and d is not None else None,
            )
        )
    return out


def handle(ctx: RequestContext, request: dict):
    broker = ctx.broker
    include_synonyms = request.get("include_synonyms", False)
    include_doc = request.get("include_documentation", False)
    results = []
    for r in request["resources"]:
        rtype, rname = r["resource_type"], r["resource_name"]
        keys = set(r["configuration_keys"]) if r.get("configuration_keys") else None
        res = {"error_code": 0, "error_message": None, "resource_type": rtype, "resource_name": rname, "configs": []}
        denied = authorized.config_denied(ctx, rtype, rname, Operation.DESCRIBE_CONFIGS)
        if denied:
            res["error_code"] = denied
            res["error_message"] = "Authorization failed."
        elif rtype == RESOURCE_TOPIC:
            info = broker.metadata.topics.get(rname)
            if info is None:
                res["error_code"] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                res["error_message"] = f"Topic {rname} does not exist"
            else:
                res["configs"] = topic_configs(broker, info, keys, include_synonyms, include_doc)
        elif rtype == RESOURCE_BROKER:
            if rname not in ("", str(broker.node.node_id)):
                res["error_code"] = ErrorCode.INVALID_REQUEST
                res["error_message"] = (
                    (f"Unexpected broker id, expected {broker.node.node_id} or empty string, but received {rname}")
                    if rname.lstrip("-").isdigit()
                    else (f"Broker id must be an integer, but it is: {rname}")
                )
            else:
                res["configs"] = broker_configs(broker, keys, include_synonyms, rname == "", include_doc)
        else:
            res["error_code"] = ErrorCode.INVALID_REQUEST
            res["error_message"] = f"Unsupported resource type {rtype}"
        results.append(res)
    return {"throttle_time_ms": 0, "results": results}
