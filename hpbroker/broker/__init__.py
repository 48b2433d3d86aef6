"""What a request handler may ask of a broker, whichever topology runs it.

- ``interface``: the declared broker interface (``Broker`` and its parts: the metadata cache,
  the replica manager, the controller, the group coordinator), as ``typing.Protocol`` types;
- ``metadata_cache``: ``MetadataCache``, what this broker knows of the cluster's topics,
  partitions and brokers (Metadata, FindCoordinator and DescribeCluster answer from it);
- ``request``: the per-request context a handler receives, and the signals it may raise;
- ``routes``: where each API runs in the multi-process topology (each API module declares its
  ``ROUTE``; the registry refuses a module without one);
- ``authorized``: the operations a broker without an authorizer reports (KIP-430);
- ``local``: ``LocalBroker``, the broker of a process that holds partitions (the in-process
  server's, and each handler process's).

Handlers import ``interface``, ``request``, ``routes`` and ``authorized``, which import nothing
from ``hpbroker.handlers`` or ``hpbroker.server``; ``local`` puts the implementations together
(replication, controller, coordinator).
"""
