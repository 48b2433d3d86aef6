"""Dynamic configs from ZooKeeper, on every broker (Kafka's DynamicConfigManager).

A config change is written where Kafka's AdminZkClient writes it: the whole override set at
/config/topics/<topic> or /config/brokers/<id> (/config/brokers/<default> for the cluster-wide
defaults), then a sequential notification /config/changes/config_change_<n> naming the entity
("topics/<topic>", "brokers/<id>"). Every broker watches /config/changes and, for each
notification newer than the last it handled, reads the entity's overrides again and applies them:
a topic's to the topic (its logs, the checks a Produce makes), the broker resources to this
broker's dynamic layers (its own id and <default>; another broker's id is not its concern).

At start-up the broker reads its two broker resources; notifications older than the start are
skipped (a topic's overrides are read when the topic first reaches this broker).

Who may touch: the broker's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hpbroker.cluster import zk_data as zd
from hpbroker.cluster.zk_data import ZkDataError

log = logging.getLogger(__name__)

BROKER_CONFIG_TYPE = "brokers"
DEFAULT_ENTITY = "<default>"  # Kafka's ConfigEntityName.Default


def _malformed(exc: ZkDataError) -> None:
    log.error("malformed znode %s (ignored)", exc)


class ConfigSync:
    def __init__(
        self,
        zk,
        broker_id: int,
        on_topic_configs: Callable[[str, dict[str, str]], None],
        on_broker_configs: Callable[[dict[str, str], dict[str, str]], None],
    ):
        self.zk = zk  # an AsyncZk (cluster/async_zk.py)
        self.broker_id = broker_id
        self.on_topic_configs = on_topic_configs
        self.on_broker_configs = on_broker_configs
        self._last: str | None = None
        self._running = False
        self._again = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.reload_broker_configs()
        existing = await self.zk(self.zk.client.get_config_changes, None, _malformed)
        if existing:
            self._last = existing[-1][0]
        first = [True]

        def changed(children):
            if first[0]:
                first[0] = False
                return True
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self.process)
            return True

        await self.zk(self.zk.client.watch_children, zd.CONFIG_CHANGES_PATH, changed)

    async def reload_broker_configs(self) -> None:
        own = await self._entity_configs(BROKER_CONFIG_TYPE, str(self.broker_id))
        default = await self._entity_configs(BROKER_CONFIG_TYPE, DEFAULT_ENTITY)
        self.on_broker_configs(own, default)

    async def topic_configs(self, topics) -> dict[str, dict[str, str]]:
        """The overrides of each topic ({} when none, or malformed: logged)."""
        return await self.zk(self.zk.client.get_entities_configs, zd.TOPIC_CONFIG_TYPE, sorted(topics), _malformed)

    async def _entity_configs(self, entity_type: str, name: str) -> dict[str, str]:
        try:
            return await self.zk(self.zk.client.get_entity_configs, entity_type, name)
        except ZkDataError as exc:
            _malformed(exc)
            return {}

    def process(self) -> None:
        """Handle the notifications newer than the last handled (one pass at a time)."""
        if self._running:
            self._again = True
            return
        self._running = True
        assert self._loop is not None
        self._loop.create_task(self._process())

    async def _process(self) -> None:
        try:
            while True:
                self._again = False
                changes = await self.zk(self.zk.client.get_config_changes, self._last, _malformed)
                for name, entity in changes:
                    self._last = name
                    entity_type, _, entity_name = entity.partition("/")
                    if entity_type == zd.TOPIC_CONFIG_TYPE:
                        configs = await self._entity_configs(entity_type, entity_name)
                        log.info("config change of topic %s: %s", entity_name, configs)
                        self.on_topic_configs(entity_name, configs)
                    elif entity_type == BROKER_CONFIG_TYPE and entity_name in (str(self.broker_id), DEFAULT_ENTITY):
                        log.info("config change of broker resource %s", entity_name)
                        await self.reload_broker_configs()
                if not self._again:
                    return
        except Exception:
            log.exception("applying config changes from ZooKeeper failed; the next change tries again")
        finally:
            self._running = False
