"""DescribeCluster v0-1 on a BrokerContext: brokers, controller, cluster id, operations, and the
endpoint type a broker cannot describe."""
from hpbroker.config import BrokerConfig
from hpbroker.handlers import describe_cluster
from hpbroker.handlers.context import BrokerContext, Node
from hpbroker.broker.request import RequestContext
from hpbroker.protocol import decode_response, decode_response_header, encode_response
from hpbroker.protocol.errors import ErrorCode


def test_describe_cluster_versions(tmp_path):
    b = BrokerContext(BrokerConfig({"log.dirs": str(tmp_path)}), Node(3, "h", 9999))
    try:
        for version in (0, 1):
            ctx = RequestContext(b, 60, version, 1, "t", "127.0.0.1:1")
            r = describe_cluster.handle(ctx, {"include_cluster_authorized_operations": False, "endpoint_type": 1})
            frame = bytes(encode_response(60, version, 1, r))
            _, off = decode_response_header(60, version, frame, 4)
            got = decode_response(60, version, frame, off)
            assert got["brokers"] == [{"broker_id": 3, "host": "h", "port": 9999, "rack": None}]
            assert (got["controller_id"], got["cluster_id"], got["error_code"]) == (3, b.cluster_id, 0)
            assert got["cluster_authorized_operations"] == -2147483648
        ctx = RequestContext(b, 60, 1, 1, "t", "127.0.0.1:1")
        r = describe_cluster.handle(ctx, {"include_cluster_authorized_operations": True, "endpoint_type": 2})
        assert r["error_code"] == ErrorCode.UNSUPPORTED_ENDPOINT_TYPE and r["brokers"] == []
        r = describe_cluster.handle(ctx, {"include_cluster_authorized_operations": True, "endpoint_type": 1})
        assert r["cluster_authorized_operations"] == 0b1111110100000  # CREATE 5, ALTER 7 .. IDEMPOTENT_WRITE 12
    finally:
        b.close()
