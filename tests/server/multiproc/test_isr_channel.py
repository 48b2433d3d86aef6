"""The ISR channel between handler h and handler 0 (server/multiproc/isr_channel.py), both ends in
one event loop over a real socket pair: asks are answered with what handler 0's writer returned,
a restarted handler 0 drops the asks of its predecessor's time, an unanswered ask counts as not
written, and an answer meant for another incarnation is not taken."""

import asyncio
import json
from types import SimpleNamespace

from hpbroker.server.multiproc import isr_channel


def _partition(epoch=4):
    return SimpleNamespace(topic="t", index=1, leader_epoch=2, partition_epoch=epoch, controller_epoch=3)


def test_asks_reach_handler_0_and_its_answers_come_back():
    async def main():
        zero, h = isr_channel.channel_pair()
        writes, notified = [], []

        async def write_isr(p, isr):
            writes.append((p.topic, p.index, p.leader_epoch, p.partition_epoch, p.controller_epoch, isr))
            return None if p.partition_epoch == 9 else p.partition_epoch + 1

        async def notify(partitions):
            notified.append(partitions)

        server = isr_channel.IsrServer([zero], write_isr, notify)
        client = isr_channel.IsrClient(h, broker_id=1)
        try:
            assert await client.write_isr(_partition(), (1, 2)) == 5
            assert await client.write_isr(_partition(9), (1,)) is None  # the state znode moved on
            await client.notify([("t", 1), ("u", 0)])
        finally:
            client.close()
            server.close()
        assert writes == [("t", 1, 2, 4, 3, (1, 2)), ("t", 1, 2, 9, 3, (1,))]
        assert notified == [[("t", 1), ("u", 0)]]

    asyncio.run(main())


def test_an_ask_left_for_a_previous_handler_0_is_dropped_and_counts_as_not_written(monkeypatch):
    monkeypatch.setattr(isr_channel, "ASK_TIMEOUT_S", 0.2)

    async def main():
        zero, h = isr_channel.channel_pair()
        client = isr_channel.IsrClient(h, broker_id=1)
        writes = []

        async def write_isr(p, isr):
            writes.append(isr)
            return 1

        ask = asyncio.create_task(client.write_isr(_partition(), (1, 2)))
        await asyncio.sleep(0.01)  # sent while no handler 0 serves the channel
        server = isr_channel.IsrServer([zero], write_isr, None)  # the new incarnation drops it
        try:
            assert await ask is None
            assert writes == []
            assert await client.write_isr(_partition(), (1, 3)) == 1
        finally:
            client.close()
            server.close()

    asyncio.run(main())


def test_an_answer_for_another_incarnation_is_not_taken(monkeypatch):
    monkeypatch.setattr(isr_channel, "ASK_TIMEOUT_S", 0.2)

    async def main():
        zero, h = isr_channel.channel_pair()
        client = isr_channel.IsrClient(h, broker_id=1)
        try:
            ask = asyncio.create_task(client.write_isr(_partition(), (1,)))
            await asyncio.sleep(0.01)
            sent = json.loads(zero.recv(isr_channel.MAX_MESSAGE))
            zero.send(json.dumps({"id": sent["id"] - 1, "version": 7}).encode())  # a predecessor's id
            assert await ask is None
        finally:
            client.close()

    asyncio.run(main())
