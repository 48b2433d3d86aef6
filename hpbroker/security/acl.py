"""Kafka's ACL model: resource types, pattern types, operations, permissions (the codes of
CreateAcls / DescribeAcls / DeleteAcls), an ACL binding and the filters that match bindings.

A binding says: ``principal`` from ``host`` is ALLOWed or DENYed ``operation`` on the resources
of ``resource_type`` whose name is ``name`` (LITERAL; ``*`` is every resource of the type) or
starts with ``name`` (PREFIXED). A filter (DescribeAcls, DeleteAcls) matches bindings: ANY and
null match everything, MATCH (pattern filters) matches the bindings that would apply to a
resource of that name (literal, ``*``, and prefixes of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ResourceType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class Permission(IntEnum):
    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


WILDCARD = "*"
WILDCARD_PRINCIPAL = "User:*"
CLUSTER_NAME = "kafka-cluster"

#: the operations each resource type has (Kafka's AclEntry.supportedOperations)
SUPPORTED_OPERATIONS = {
    ResourceType.TOPIC: (
        Operation.READ,
        Operation.WRITE,
        Operation.CREATE,
        Operation.DESCRIBE,
        Operation.DELETE,
        Operation.ALTER,
        Operation.DESCRIBE_CONFIGS,
        Operation.ALTER_CONFIGS,
    ),
    ResourceType.GROUP: (Operation.READ, Operation.DESCRIBE, Operation.DELETE),
    ResourceType.CLUSTER: (
        Operation.CREATE,
        Operation.CLUSTER_ACTION,
        Operation.DESCRIBE_CONFIGS,
        Operation.ALTER_CONFIGS,
        Operation.IDEMPOTENT_WRITE,
        Operation.ALTER,
        Operation.DESCRIBE,
    ),
    ResourceType.TRANSACTIONAL_ID: (Operation.DESCRIBE, Operation.WRITE),
    ResourceType.DELEGATION_TOKEN: (Operation.DESCRIBE,),
    ResourceType.USER: (Operation.CREATE_TOKENS, Operation.DESCRIBE_TOKENS),
}

#: an ALLOW of any of these allows the key (Kafka: read, write, delete or alter imply describe;
#: alter_configs implies describe_configs)
IMPLIED_BY = {
    Operation.DESCRIBE: (Operation.DESCRIBE, Operation.READ, Operation.WRITE, Operation.DELETE, Operation.ALTER),
    Operation.DESCRIBE_CONFIGS: (Operation.DESCRIBE_CONFIGS, Operation.ALTER_CONFIGS),
}


class InvalidAcl(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AclBinding:
    resource_type: int
    name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission: int

    def validate(self) -> None:
        """What Kafka's CreateAcls refuses (INVALID_REQUEST), with its reason."""
        if self.resource_type not in SUPPORTED_OPERATIONS:
            raise InvalidAcl(f"Invalid resource type {self.resource_type}")
        if self.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
            raise InvalidAcl(f"Invalid pattern type {self.pattern_type}: only LITERAL and PREFIXED bindings exist")
        if self.permission not in (Permission.ALLOW, Permission.DENY):
            raise InvalidAcl(f"Invalid permission type {self.permission}")
        if self.operation != Operation.ALL and self.operation not in SUPPORTED_OPERATIONS[self.resource_type]:
            raise InvalidAcl(
                f"Operation {Operation(self.operation).name} is not supported on resource type "
                f"{ResourceType(self.resource_type).name}"
            )
        if not self.name:
            raise InvalidAcl("Invalid resource name: it must not be empty")
        if self.resource_type == ResourceType.CLUSTER and self.name != CLUSTER_NAME:
            raise InvalidAcl(f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}")
        if self.pattern_type == PatternType.PREFIXED and self.name == WILDCARD:
            raise InvalidAcl("A PREFIXED binding of '*' is not allowed; use LITERAL '*'")
        kind, sep, _ = self.principal.partition(":")
        if not sep or not kind:
            raise InvalidAcl(f"Invalid principal {self.principal!r}: expected type:name, e.g. User:alice")
        if not self.host:
            raise InvalidAcl("Invalid host: it must not be empty (* is every host)")

    def to_json(self) -> dict:
        return {
            "principal": self.principal,
            "host": self.host,
            "operation": Operation(self.operation).name,
            "permissionType": Permission(self.permission).name,
        }


@dataclass(frozen=True, slots=True)
class AclFilter:
    """A DescribeAcls / DeleteAcls filter; None fields match anything."""

    resource_type: int
    name: str | None
    pattern_type: int
    principal: str | None
    host: str | None
    operation: int
    permission: int

    def matches(self, b: AclBinding) -> bool:
        if self.resource_type != ResourceType.ANY and self.resource_type != b.resource_type:
            return False
        if not self._pattern_matches(b):
            return False
        if self.principal is not None and self.principal != b.principal:
            return False
        if self.host is not None and self.host != b.host:
            return False
        if self.operation != Operation.ANY and self.operation != b.operation:
            return False
        return self.permission == Permission.ANY or self.permission == b.permission

    def _pattern_matches(self, b: AclBinding) -> bool:
        pt = self.pattern_type
        if pt == PatternType.ANY:
            return self.name is None or self.name == b.name
        if pt == PatternType.MATCH:
            if self.name is None:
                return True
            if b.pattern_type == PatternType.LITERAL:
                return b.name == self.name or b.name == WILDCARD
            return self.name.startswith(b.name)
        if pt != b.pattern_type:
            return False
        return self.name is None or self.name == b.name

    def validate(self) -> None:
        if self.resource_type == ResourceType.UNKNOWN or self.pattern_type == PatternType.UNKNOWN:
            raise InvalidAcl("The filter has an unknown resource or pattern type")
        if self.operation == Operation.UNKNOWN or self.permission == Permission.UNKNOWN:
            raise InvalidAcl("The filter has an unknown operation or permission type")
