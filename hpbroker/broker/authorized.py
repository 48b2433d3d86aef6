"""Authorized operations (KIP-430): with an authorizer, the operations a principal may do
(``RequestContext.authorized_operations``); without one, every operation the resource type
supports, as a bitfield of AclOperation codes (Kafka's AclEntry.supportedOperations). Clients ask
for them in Metadata (cluster and topics), DescribeCluster and DescribeGroups; unasked, the field
stays Integer.MIN_VALUE. And the one check the config APIs share (``config_denied``).
"""

from hpbroker.protocol.errors import ErrorCode
from hpbroker.security.acl import CLUSTER_NAME, ResourceType

# AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
# CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12
NOT_REQUESTED = -2147483648


def _bits(*ops: int) -> int:
    return sum(1 << op for op in ops)


CLUSTER = _bits(5, 7, 8, 9, 10, 11, 12)
TOPIC = _bits(3, 4, 5, 6, 7, 8, 10, 11)
GROUP = _bits(3, 6, 8)


def operations(requested: bool, supported: int) -> int:
    return supported if requested else NOT_REQUESTED


RESOURCE_TOPIC, RESOURCE_BROKER = 2, 4  # DescribeConfigs / AlterConfigs resource types


def config_denied(ctx, rtype: int, rname: str, operation: int) -> int:
    """Kafka's check of a config resource: ``operation`` on the topic, or on the cluster for a
    BROKER resource; the error code when refused, else 0."""
    if rtype == RESOURCE_TOPIC:
        return 0 if ctx.authorize(operation, ResourceType.TOPIC, rname) else ErrorCode.TOPIC_AUTHORIZATION_FAILED
    if rtype == RESOURCE_BROKER:
        if ctx.authorize(operation, ResourceType.CLUSTER, CLUSTER_NAME):
            return 0
        return ErrorCode.CLUSTER_AUTHORIZATION_FAILED
    return 0
