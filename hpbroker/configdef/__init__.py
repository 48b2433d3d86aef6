"""Every config hpbroker knows, as Kafka's ConfigDef declares it: name, type, default, validator,
documentation, and what it does here. docs/configuration.md is generated from these
(``python -m hpbroker.configdef.doc``); hpbroker/config.py reads values with them.

- types.py: what a definition is; reading and checking a value as Kafka does
- checks.py: Kafka's validators with a syntax of their own (versions, listeners ...)
- topic.py: TOPIC_CONFIGS, every Kafka 3.x topic config
- broker.py: the broker properties hpbroker acts on, and the topic defaults
- broker_kafka.py: Kafka's other dynamic broker properties (TLS, SASL, pools): accepted only
- kafka_names.py: every Kafka broker property name (refused at run time unless dynamic)
- dynamic.py: what AlterConfigs on a broker may change (Kafka's DynamicBrokerConfig rules)
- doc.py: the generator of docs/configuration.md
"""

from hpbroker.configdef.broker import BROKER_CORE
from hpbroker.configdef.broker_kafka import BROKER_KAFKA
from hpbroker.configdef.topic import TOPIC_CONFIGS
from hpbroker.configdef.types import BrokerConfigDef, TopicConfigDef

#: name -> definition of every broker property hpbroker defines
BROKER_CONFIGS: dict[str, BrokerConfigDef] = {d.name: d for d in BROKER_CORE + BROKER_KAFKA}
assert len(BROKER_CONFIGS) == len(BROKER_CORE) + len(BROKER_KAFKA), "a broker config is defined twice"
assert all(t.broker_property in BROKER_CONFIGS for t in TOPIC_CONFIGS.values() if t.broker_property)

__all__ = ["BROKER_CONFIGS", "TOPIC_CONFIGS", "BrokerConfigDef", "TopicConfigDef"]
