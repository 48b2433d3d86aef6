"""Authorized operations (KIP-430) as a broker without an authorizer reports them: every
operation the resource type supports, as a bitfield of AclOperation codes (Kafka's
AclEntry.supportedOperations). Clients ask for them in Metadata (cluster and topics),
DescribeCluster and DescribeGroups; unasked, the field stays Integer.MIN_VALUE.
"""

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
