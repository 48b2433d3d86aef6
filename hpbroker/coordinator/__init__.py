"""The classic consumer group coordinator (PROTOCOL.md section 4).

state.py        the group state machine, as a table
group.py        a group and its members in memory
records.py      the __consumer_offsets record formats; group -> partition
config.py       CoordinatorConfig: the group.* and offsets.* settings
shard.py        GroupCoordinatorShard: one partition's groups and offsets; replay, and what
                touches both managers
group_manager.py   GroupMetadataManager: groups, the rebalance protocol, session timers
offset_manager.py  OffsetMetadataManager: committed offsets, their retention and deletion
coordinator.py  this process's shards; the append-then-replay write path; loading
consumer_protocol.py  the "consumer" protocol's subscription/assignment bytes (for tools)
"""
