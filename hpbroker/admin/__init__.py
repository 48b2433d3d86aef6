"""Command-line tools that talk to any Kafka-protocol broker (hpbroker or Kafka) over the wire."""
