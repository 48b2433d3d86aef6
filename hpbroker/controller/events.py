"""The controller's events and their queue (Kafka's ControllerEventManager and ControllerEvent).

Everything that changes the controller's state is an event: ZooKeeper watches (a broker came or
went, a topic was created, marked for deletion or given partitions, an ISR changed, the
controller changed), the session (expired, a new one), requests (a broker's ControlledShutdown)
and answers (a StopReplica that deleted replicas). Watches fire on kazoo's threads and answers on
the loop; each only puts an event in the queue (``put_threadsafe`` from another thread), and one
task on the broker's event loop processes them one at a time, in order, so the controller's
state never sees two changes at once.

Who may touch: ``put``/``put_threadsafe`` from anywhere; the rest, the controller's loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


class Event:
    """A controller event; ``name`` is Kafka's (ControllerState) for the logs."""

    name = "Event"


@dataclass
class Startup(Event):
    name = "Startup"


@dataclass
class Reelect(Event):
    """/controller was deleted (or this broker has a new session): resign if needed, elect."""

    name = "Reelect"


@dataclass
class ControllerChange(Event):
    """/controller was written: resign if another broker is now the controller."""

    name = "ControllerChange"


@dataclass
class Expire(Event):
    """The ZooKeeper session expired: resign at once."""

    name = "Expire"


@dataclass
class BrokerChange(Event):
    name = "BrokerChange"


@dataclass
class TopicChange(Event):
    name = "TopicChange"


@dataclass
class PartitionModifications(Event):
    topic: str = ""
    name = "PartitionModifications"


@dataclass
class TopicDeletion(Event):
    name = "TopicDeletion"


@dataclass
class IsrChangeNotification(Event):
    name = "IsrChangeNotification"


@dataclass
class ControlledShutdown(Event):
    broker_id: int = -1
    broker_epoch: int = -1
    answer: asyncio.Future | None = field(default=None, repr=False)
    name = "ControlledShutdown"


@dataclass
class StopReplicaAnswered(Event):
    """A broker answered a StopReplica that deleted replicas of topics being deleted."""

    broker_id: int = -1
    error_code: int = 0
    partition_errors: dict = field(default_factory=dict)
    name = "TopicDeletionStopReplicaResponseReceived"


@dataclass
class Shutdown(Event):
    name = "ShutdownEventThread"


class EventQueue:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

    def put(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def put_threadsafe(self, event: Event) -> None:
        self.loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def clear_and_put(self, event: Event) -> None:
        """Drop what is queued (a controller that lost its session must not act on it), then
        put ``event``; a ControlledShutdown dropped is answered NOT_CONTROLLER by its waiter."""
        while not self._queue.empty():
            dropped = self._queue.get_nowait()
            if isinstance(dropped, ControlledShutdown) and dropped.answer is not None and not dropped.answer.done():
                dropped.answer.set_exception(ControllerMovedAway("the controller lost its ZooKeeper session"))
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def qsize(self) -> int:
        return self._queue.qsize()


class ControllerMovedAway(Exception):
    """This broker is not (or no longer) the controller: NOT_CONTROLLER to the asker."""
