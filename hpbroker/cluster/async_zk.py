"""KafkaZkClient's blocking calls, awaited from an event loop.

kazoo answers on its own threads and KafkaZkClient's methods block until ZooKeeper answers
(zk_session.py), so the broker's event loop runs them on a small pool of threads of its own and
awaits them: ``await zk(zk.client.get_partition_states, tps)``. Several may run at once (kazoo
serialises them on its one connection); the controller awaits its own one at a time.

Who may touch: the event loop it was made on.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from hpbroker.cluster.zk_client import KafkaZkClient

THREADS = 4


class AsyncZk:
    def __init__(self, client: KafkaZkClient):
        self.client = client
        self.executor = ThreadPoolExecutor(THREADS, thread_name_prefix="zk")

    async def __call__(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
