"""The inter-broker APIs (LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown) on a single
node: not advertised by ApiVersions (a broker lists them only in a cluster, as a ZooKeeper-mode
Kafka broker does), and a request for one closes the connection, as for an API the node does not
serve."""

import pytest

from hpbroker.request_path import Refused

CLUSTER_ONLY = {4, 5, 6, 7}


def test_api_versions_does_not_list_them(harness):
    keys = {k["api_key"] for k in harness.request(18, 3, {})["api_keys"]}
    assert not keys & CLUSTER_ONLY and {0, 1, 3} <= keys


@pytest.mark.parametrize(
    "api_key, version, body",
    [
        (
            4,
            5,
            {
                "controller_id": 1,
                "controller_epoch": 1,
                "broker_epoch": 1,
                "type": 0,
                "topic_states": [],
                "live_leaders": [],
            },
        ),
        (5, 3, {"controller_id": 1, "controller_epoch": 1, "broker_epoch": 1, "topic_states": []}),
        (6, 7, {"controller_id": 1, "controller_epoch": 1, "broker_epoch": 1, "topic_states": [], "live_brokers": []}),
        (7, 3, {"broker_id": 1, "broker_epoch": 1}),
    ],
)
def test_a_request_for_one_closes_the_connection(harness, api_key, version, body):
    with pytest.raises(Refused, match="cluster"):
        harness.request(api_key, version, body)
