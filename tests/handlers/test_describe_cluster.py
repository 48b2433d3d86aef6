"""DescribeCluster v0-1 through the request path: brokers, controller, cluster id, operations,
and the endpoint type a broker cannot describe."""

from hpbroker.broker.interface import Node
from hpbroker.protocol.errors import ErrorCode
from tests.handlers.harness import BrokerHarness


def test_describe_cluster_versions(tmp_path):
    h = BrokerHarness(tmp_path, node=Node(3, "h", 9999))
    try:
        for version in (0, 1):
            got = h.request(60, version, {"include_cluster_authorized_operations": False, "endpoint_type": 1})
            assert got["brokers"] == [{"broker_id": 3, "host": "h", "port": 9999, "rack": None}]
            assert (got["controller_id"], got["cluster_id"], got["error_code"]) == (3, h.broker.cluster_id, 0)
            assert got["cluster_authorized_operations"] == -2147483648
        r = h.request(60, 1, {"include_cluster_authorized_operations": True, "endpoint_type": 2})
        assert r["error_code"] == ErrorCode.UNSUPPORTED_ENDPOINT_TYPE and r["brokers"] == []
        r = h.request(60, 1, {"include_cluster_authorized_operations": True, "endpoint_type": 1})
        assert r["cluster_authorized_operations"] == 0b1111110100000  # CREATE 5, ALTER 7 .. IDEMPOTENT_WRITE 12
    finally:
        h.close()
