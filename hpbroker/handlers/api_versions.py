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


#: the answer's API list on a single node and in a cluster, set once by the registry
#: (hpbroker/handlers/__init__.py: ``advertise``), which imports every API module, this one too
_API_KEYS: dict[bool, list[dict]] = {False: [], True: []}


def advertise(single_node: dict[int, tuple[int, int]], cluster: dict[int, tuple[int, int]]) -> None:
    """The versions to list (api_key -> (min, max)) without and with ``zookeeper.connect``."""
    for in_cluster, versions in ((False, single_node), (True, cluster)):
        _API_KEYS[in_cluster] = [
            {"api_key": k, "min_version": lo, "max_version": hi} for k, (lo, hi) in versions.items()
        ]


def handle(ctx: RequestContext, request: dict):
    in_cluster = bool(ctx.broker.config.get("zookeeper.connect"))
    return {"error_code": 0, "api_keys": _API_KEYS[in_cluster], "throttle_time_ms": 0}
