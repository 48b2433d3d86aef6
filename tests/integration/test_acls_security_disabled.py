"""ACL requests against a broker without an authorizer: SECURITY_DISABLED, as Kafka answers
without ``authorizer.class.name``, instead of an API the clients think the broker lacks."""

import pytest

pytestmark = pytest.mark.integration


def test_kafka_python_acl_calls_say_security_is_disabled(bootstrap):
    from kafka.admin import (
        ACL,
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePattern,
        ResourcePatternFilter,
        ResourceType,
    )
    from kafka.errors import SecurityDisabledError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        everything = ACLFilter(
            principal=None,
            host="*",
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        with pytest.raises(SecurityDisabledError, match="No Authorizer"):
            admin.describe_acls(everything)
        acl = ACL(
            principal="User:alice",
            host="*",
            operation=ACLOperation.READ,
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(ResourceType.TOPIC, "t"),
        )
        assert admin.create_acls([acl, acl]) == {"succeeded": [], "failed": [SecurityDisabledError] * 2}
        ((_, matching, error),) = admin.delete_acls([everything])
        assert matching == [] and error is SecurityDisabledError
    finally:
        admin.close()


def test_confluent_create_acls_fail_per_binding(bootstrap):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    binding = AclBinding(
        ResourceType.TOPIC,
        "t",
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    (fut,) = admin.create_acls([binding], request_timeout=10).values()
    with pytest.raises(KafkaException) as info:
        fut.result(15)
    assert info.value.args[0].code() == KafkaError.SECURITY_DISABLED
