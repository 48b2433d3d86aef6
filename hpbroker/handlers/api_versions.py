"""ApiVersions (key 18): the versions of every API this broker serves, from the registry.

Versions 3+ carry the client's software name and version (flexible body), but the response
header stays v0 (PROTOCOL.md 1.2); an unsupported version is answered by the server layer with
a v0 error body before this handler is reached.
"""

from hpbroker.broker.request import RequestContext
from hpbroker.broker.routes import PROCESSOR, Route

API_KEY = 18
MIN_VERSION, MAX_VERSION = 0, 4
ROUTE = Route(PROCESSOR)


def handle(ctx: RequestContext, request: dict):
    from hpbroker.handlers import supported_versions

    in_cluster = bool(ctx.broker.config.get("zookeeper.connect"))
    return {
        "error_code": 0,
        "api_keys": [
            {"api_key": k, "min_version": lo, "max_version": hi}
            for k, (lo, hi) in supported_versions(in_cluster).items()
        ],
        "throttle_time_ms": 0,
    }
