"""ForwardingController: a process that is not the controller asks the one that is.

Each change travels as the Kafka request a client would send for it, and the controller runs it
through its own request path (Kafka forwards admin requests to its controller the same way,
KIP-590, and creates auto-created topics with a CreateTopics request to it):

    create_topic       CreateTopics v4      (the factor and assignment asked, -1: the controller's default)
    delete_topic       DeleteTopics v3
    add_partitions     CreatePartitions v1
    set_topic_configs  AlterConfigs v1, a TOPIC resource (non-incremental: the overrides replaced)
    set_broker_configs AlterConfigs v1, this broker's BROKER resource (its id), or the
                       cluster-wide one ("") for ``cluster_default``
    next_producer_id   InitProducerId v1

``channel(api_key, api_version, body)`` sends one request to the controller and returns an
awaitable of its decoded answer; it raises ``ControllerError`` itself if the controller cannot
be asked or does not answer (in the multi-process topology: a processor's ring to handler 0,
server/multiproc/processor.py). The controller answers only once every process of the node has
applied the change; ``refresh()`` then makes this process's metadata show it. An error code in
the answer is raised as ``ControllerError``.

Who may touch: the event loop of the asking process.
"""

from __future__ import annotations

from hpbroker.broker.interface import ControllerError

CREATE_TOPICS, DELETE_TOPICS, INIT_PRODUCER_ID, ALTER_CONFIGS, CREATE_PARTITIONS = 19, 20, 22, 33, 37
#: the version each request is sent at (within what the controller's API modules serve)
VERSIONS = {CREATE_TOPICS: 4, DELETE_TOPICS: 3, CREATE_PARTITIONS: 1, ALTER_CONFIGS: 1, INIT_PRODUCER_ID: 1}
TIMEOUT_MS = 30_000
RESOURCE_TOPIC, RESOURCE_BROKER = 2, 4


def _raise_if_failed(result: dict) -> None:
    if result["error_code"]:
        raise ControllerError(result["error_code"], result.get("error_message"))


class ForwardingController:
    is_active = True  # it asks the controller, which takes or refuses the change

    def __init__(self, channel, refresh, broker_id: int):
        self.channel = channel
        self.refresh = refresh
        self.broker_id = broker_id

    async def _ask(self, api_key: int, body: dict) -> dict:
        answer = await self.channel(api_key, VERSIONS[api_key], body)
        self.refresh()
        return answer

    async def create_topic(
        self,
        name: str,
        num_partitions: int,
        configs: dict[str, str],
        replication_factor: int = -1,
        assignment: dict[int, list[int]] | None = None,
        wait: bool = True,
    ) -> None:
        answer = await self._ask(
            CREATE_TOPICS,
            {
                "topics": [
                    {
                        "name": name,
                        "num_partitions": -1 if assignment else num_partitions,
                        "replication_factor": -1 if assignment else replication_factor,
                        "assignments": [
                            {"partition_index": p, "broker_ids": ids} for p, ids in sorted((assignment or {}).items())
                        ],
                        "configs": [{"name": k, "value": v} for k, v in configs.items()],
                    }
                ],
                "timeout_ms": TIMEOUT_MS if wait else 0,
                "validate_only": False,
            },
        )
        _raise_if_failed(answer["topics"][0])

    async def delete_topic(self, name: str) -> None:
        answer = await self._ask(DELETE_TOPICS, {"topic_names": [name], "timeout_ms": TIMEOUT_MS})
        _raise_if_failed(answer["responses"][0])

    async def add_partitions(self, name: str, count: int, assignment: list[list[int]] | None = None) -> None:
        answer = await self._ask(
            CREATE_PARTITIONS,
            {
                "topics": [
                    {
                        "name": name,
                        "count": count,
                        "assignments": None if assignment is None else [{"broker_ids": ids} for ids in assignment],
                    }
                ],
                "timeout_ms": TIMEOUT_MS,
                "validate_only": False,
            },
        )
        _raise_if_failed(answer["results"][0])

    async def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        await self._alter(RESOURCE_TOPIC, name, configs)

    async def set_broker_configs(self, configs: dict[str, str], cluster_default: bool = False) -> None:
        await self._alter(RESOURCE_BROKER, "" if cluster_default else str(self.broker_id), configs)

    async def _alter(self, resource_type: int, name: str, configs: dict[str, str]) -> None:
        answer = await self._ask(
            ALTER_CONFIGS,
            {
                "resources": [
                    {
                        "resource_type": resource_type,
                        "resource_name": name,
                        "configs": [{"name": k, "value": v} for k, v in configs.items()],
                    }
                ],
                "validate_only": False,
            },
        )
        _raise_if_failed(answer["responses"][0])

    async def security_changed(self) -> None:
        pass  # the ACL and credential requests go to the controller itself, never through here

    async def next_producer_id(self) -> int:
        answer = await self._ask(INIT_PRODUCER_ID, {"transactional_id": None, "transaction_timeout_ms": -1})
        _raise_if_failed(answer)
        return answer["producer_id"]
