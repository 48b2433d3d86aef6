"""The transaction coordinator (Kafka's KIP-98): ``__transaction_state``, its records and state
machine, the coordinator of the transactional ids whose partitions this process leads, and the
channel that has partition leaders write the COMMIT/ABORT markers.

- ``state``: the transaction states as a table, ``TransactionMetadata``.
- ``records``: the key and value layouts of ``__transaction_state`` records.
- ``coordinator``: ``TransactionCoordinator`` (InitProducerId, AddPartitionsToTxn,
  AddOffsetsToTxn, EndTxn, timeouts, expiration, loading by replay).
- ``markers``: writing markers to the partitions of a transaction, here or on other brokers
  (WriteTxnMarkers), and the leader's side of WriteTxnMarkers.
"""
