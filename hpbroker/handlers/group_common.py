"""What the group handlers share: finding the shard of a group, running an operation through
the coordinator's write path, and awaiting a parked JoinGroup/SyncGroup.

Not an API module (no API_KEY): the registry lists API modules explicitly.
"""
from __future__ import annotations

import asyncio

from hpbroker.coordinator.coordinator import get_coordinator


def shard_of(ctx, group_id: str):
    """(coordinator, shard) for ``group_id``; shard None if this process does not own it (or,
    in a handler other than the controller, before __consumer_offsets exists)."""
    coordinator = get_coordinator(ctx.broker)
    return coordinator, None if coordinator is None else coordinator.shard_for(group_id)


def client_host(ctx) -> str:
    host = ctx.peer.rsplit(":", 1)[0]
    return "/" + host


async def _await_parked(fut: asyncio.Future) -> dict:
    return await fut


def finish(coordinator, shard, records, result):
    """Append the operation's records (then replay them), and answer now or when parked ends.
    What JoinGroup/SyncGroup leave here is at most the metadata of a group that became Empty,
    whose loss Kafka only logs; the leader's SyncGroup stores its assignment itself, first."""
    shard.write_or_warn(records)
    if isinstance(result, asyncio.Future):
        return _await_parked(result)
    return result
