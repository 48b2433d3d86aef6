"""ControllerChannelManager: the active controller's requests to every live broker (itself too),
as Kafka requests over TCP (Kafka's ControllerChannelManager and RequestSendThread).

Each broker has a queue and a sender task: it sends the queue's requests one at a time, in order,
and hands each answer to the request's callback. A request that cannot be sent, is not answered
in time or whose connection is refused its login is sent again on a new connection after a
backoff (0.1 s doubling up to 1 s; each reason logged once, not at every attempt), until it is
answered or the broker is removed (its registration went, or it came back with a new broker
epoch and gets a new queue): a broker applies the controller's requests in the order they were
decided.

Callbacks run on the event loop; the controller's turn them into events (a StopReplica answer
completes a topic deletion).

Who may touch: the event loop of the controller's broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hpbroker.cluster.broker_client import PLAINTEXT_ONLY, BrokerUnavailable, InterBrokerSecurity
from hpbroker.cluster.zk_data import BrokerInfo

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = 0.1  # doubling up to RETRY_BACKOFF_MAX_S (Kafka's reconnect.backoff.max.ms)
RETRY_BACKOFF_MAX_S = 1.0
REQUEST_TIMEOUT_S = 30.0  # Kafka's controller.socket.timeout.ms

API_NAMES = {4: "LeaderAndIsr", 5: "StopReplica", 6: "UpdateMetadata"}


def broker_address(info: BrokerInfo, security: InterBrokerSecurity = PLAINTEXT_ONLY) -> tuple[str, int]:
    """Where a broker takes requests from other brokers: its endpoint of the inter-broker
    listener. One that registered none (it was configured otherwise) is reached at its first
    endpoint, and logged: the connection fails or is refused, and says why."""
    address = security.address(info.endpoints)
    if address is None:
        endpoint = info.endpoints[0]
        log.error(
            "broker %d registered no endpoint for the inter-broker listener %s (it has %s)",
            info.broker_id,
            security.listener_name,
            ",".join(e.listener_name for e in info.endpoints),
        )
        address = endpoint.host or "localhost", endpoint.port
    return address


class _BrokerSender:
    def __init__(self, controller_id: int, info: BrokerInfo, security: InterBrokerSecurity):
        host, port = broker_address(info, security)
        self.broker_id = info.broker_id
        self.client = security.client(host, port, f"controller-{controller_id}", REQUEST_TIMEOUT_S)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"controller-to-{info.broker_id}")

    async def _run(self) -> None:
        while True:
            api_key, version, body, callback = await self.queue.get()
            backoff, last = RETRY_BACKOFF_S, ""
            while True:
                try:
                    answer = await self.client.request(api_key, version, body)
                    break
                except BrokerUnavailable as exc:
                    reason = str(exc)
                    log.log(
                        logging.WARNING if reason != last else logging.DEBUG,
                        "controller cannot send %s to broker %d (%s); retrying",
                        API_NAMES.get(api_key, api_key),
                        self.broker_id,
                        reason,
                    )
                    last = reason
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RETRY_BACKOFF_MAX_S)
            if callback is not None:
                try:
                    callback(answer)
                except Exception:
                    log.exception("handling the answer of broker %d to %s failed", self.broker_id, api_key)

    def stop(self) -> None:
        self.task.cancel()
        self.client.close()


class ControllerChannelManager:
    def __init__(self, controller_id: int, security: InterBrokerSecurity = PLAINTEXT_ONLY):
        self.controller_id = controller_id
        self.security = security
        self._senders: dict[int, _BrokerSender] = {}

    def add_broker(self, info: BrokerInfo) -> None:
        if info.broker_id not in self._senders:
            self._senders[info.broker_id] = _BrokerSender(self.controller_id, info, self.security)

    def remove_broker(self, broker_id: int) -> None:
        sender = self._senders.pop(broker_id, None)
        if sender is not None:
            sender.stop()

    def send(self, broker_id: int, api_key: int, version: int, body: dict, callback: Callable | None = None) -> None:
        sender = self._senders.get(broker_id)
        if sender is None:
            log.warning("not sending %s to broker %d: it is not live", API_NAMES.get(api_key, api_key), broker_id)
            return
        sender.queue.put_nowait((api_key, version, body, callback))

    def pending(self, broker_id: int) -> int:
        """Requests queued for a broker and not yet answered (the one in flight included)."""
        sender = self._senders.get(broker_id)
        return 0 if sender is None else sender.queue.qsize()

    def shutdown(self) -> None:
        for broker_id in list(self._senders):
            self.remove_broker(broker_id)
