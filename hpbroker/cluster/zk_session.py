"""A ZooKeeper session for a broker, over kazoo: connection with chroot, session events, retried
requests, multi-ops fenced by the controller epoch, and watches. KafkaZkClient (zk_client.py)
builds Kafka's reads and writes on it.

Threads and callbacks
---------------------
Every method blocks until ZooKeeper answers: a request that meets a lost connection is sent
again, and after ``connection_timeout_ms`` without an answer the method raises
``ZkUnavailableError`` (the request's outcome is then unknown: it may still be applied). An
asyncio owner calls them through ``loop.run_in_executor``. Session listeners and watch callbacks run on **kazoo's threads**: they
must not block and must not call this client synchronously (a session listener runs on the
connection thread itself). The broker hops them onto its loop with ``on_loop(loop, fn)``
(``loop.call_soon_threadsafe``) and does the work there.

Session states, as kazoo reports them:

    CONNECTED   connected; after LOST, with a new session (``SessionEvent.new_session``)
    SUSPENDED   the connection is lost but the session may live on: its ephemerals (the broker's
                registration, the controller role) still stand; act on nothing new until
                CONNECTED, since another broker may be taking over
    LOST        the session expired: its ephemerals are gone. A broker registers again (and
                gets a new broker epoch); a controller resigns at once

Fencing: ``_fence(v, ops)`` prefixes ``check(/controller_epoch, v)`` to a multi, and
``_unfence`` turns a failed check into ``ControllerMovedError``: a controller whose epoch was
superseded cannot write (Kafka's wrapRequestWithControllerEpochCheck).

Who may touch: any thread; kazoo serialises requests on its one connection.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    KazooException,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.protocol.states import ZnodeStat
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from kazoo.retry import KazooRetry

from hpbroker.cluster.zk_data import CONTROLLER_EPOCH_PATH

log = logging.getLogger(__name__)

#: failures after which a request may or may not have been applied: retried
RETRIABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)

#: "any version" in a conditional write, and "no such znode" from get_data_and_version
MATCH_ANY_VERSION = -1
UNKNOWN_VERSION = -2
#: Kafka's zookeeper.session.timeout.ms default since 2.5 (KIP-537)
DEFAULT_SESSION_TIMEOUT_MS = 18000


class SessionState(str, enum.Enum):
    CONNECTED = "CONNECTED"
    SUSPENDED = "SUSPENDED"
    LOST = "LOST"


@dataclass(frozen=True)
class SessionEvent:
    state: SessionState
    session_id: int | None  # the session now in use (None while there is none)
    new_session: bool = False  # CONNECTED with a session other than the last one (after LOST)


class ControllerMovedError(Exception):
    """Kafka's ControllerMovedException: an election lost, or a write fenced by a newer
    controller epoch."""


class ZkUnavailableError(Exception):
    """ZooKeeper did not answer within the connection timeout."""


def split_connect(connect: str) -> tuple[str, str | None]:
    """ "h1:2181,h2:2181/kafka" -> ("h1:2181,h2:2181", "/kafka"); no chroot -> (hosts, None)."""
    i = connect.find("/")
    if i < 0:
        return connect, None
    chroot = connect[i:].rstrip("/")
    return connect[:i], chroot or None


def on_loop(loop, fn: Callable) -> Callable:
    """``fn`` wrapped so that a call from a kazoo thread runs it on ``loop``'s thread."""

    def hop(*args):
        loop.call_soon_threadsafe(fn, *args)

    return hop


class ZkSession:
    """One ZooKeeper session at a time (kazoo makes a new one after LOST). ``connect`` is
    "host:port[,host:port...][/chroot]"; ``connection_timeout_ms`` bounds both the first
    connection and every request (default: the session timeout, as Kafka's
    zookeeper.connection.timeout.ms). Who may touch: any thread."""

    def __init__(
        self,
        connect: str,
        *,
        session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
        connection_timeout_ms: int | None = None,
    ):
        self.connect = connect
        self.hosts, self.chroot = split_connect(connect)
        self.session_timeout_ms = session_timeout_ms
        self.connection_timeout_ms = connection_timeout_ms or session_timeout_ms
        self._kazoo = self._new_kazoo(connect)
        self._listeners: list[Callable[[SessionEvent], None]] = []
        self._lock = threading.Lock()
        self._session_id: int | None = None
        self._own_sessions: set[int] = set()  # every session this client has had
        self._closing = False
        self._kazoo.add_listener(self._on_kazoo_state)

    def _new_kazoo(self, hosts: str) -> KazooClient:
        return KazooClient(
            hosts=hosts,
            timeout=self.session_timeout_ms / 1000,
            connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=1.0),
        )

    # -- connection and session -------------------------------------------------------------
    def start(self):
        """Connect, creating the chroot first as Kafka does."""
        timeout = self.connection_timeout_ms / 1000
        if self.chroot:
            bare = self._new_kazoo(self.hosts)
            try:
                bare.start(timeout=timeout)
                bare.create_async(self.chroot, makepath=True).get(timeout=timeout)
            except NodeExistsError:
                pass
            except (KazooException, bare.handler.timeout_exception) as exc:
                raise ZkUnavailableError(f"cannot create the chroot {self.chroot} on {self.hosts}: {exc!r}") from exc
            finally:
                bare.stop()
                bare.close()
        try:
            self._kazoo.start(timeout=timeout)
        except (KazooException, self._kazoo.handler.timeout_exception) as exc:
            self._kazoo.stop()
            raise ZkUnavailableError(f"cannot connect to ZooKeeper at {self.connect}: {exc!r}") from exc
        self._note_session()
        return self

    def close(self) -> None:
        self._closing = True
        self._kazoo.stop()
        self._kazoo.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def session_id(self) -> int | None:
        return self._session_id

    @property
    def state(self) -> SessionState:
        return SessionState(self._kazoo.state)

    @property
    def kazoo(self) -> KazooClient:
        """The underlying kazoo client (for recipes not wrapped here)."""
        return self._kazoo

    def add_session_listener(self, listener: Callable[[SessionEvent], None]) -> None:
        """``listener(SessionEvent)`` on every transition, on kazoo's connection thread."""
        self._listeners.append(listener)

    def remove_session_listener(self, listener: Callable[[SessionEvent], None]) -> None:
        self._listeners.remove(listener)

    def _note_session(self) -> bool:
        """Record the session in use; True if it replaces an earlier one (after LOST)."""
        sid = self._kazoo.client_id[0] if self._kazoo.client_id else None
        with self._lock:
            new = sid is not None and sid not in self._own_sessions and bool(self._own_sessions)
            self._session_id = sid
            if sid is not None:
                self._own_sessions.add(sid)
        return new

    def _on_kazoo_state(self, state: str) -> None:
        if self._closing:
            return
        new = False
        if state == KazooState.CONNECTED:
            new = self._note_session()
        elif state == KazooState.LOST:
            with self._lock:
                self._session_id = None
        event = SessionEvent(SessionState(state), self._session_id, new)
        log.info("ZooKeeper session %s: %s%s", _hex(event.session_id), state, " (new session)" if new else "")
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the others or kazoo's thread
                log.exception("ZooKeeper session listener %r failed on %s", listener, state)

    # -- plumbing ---------------------------------------------------------------------------
    def _requests(self, sends: list[Callable], resent: list[bool] | None = None) -> list:
        """Send every request at once (``send()`` returns kazoo's async result) and gather the
        answers: per request its value, or its exception (NoNodeError, ...) as a value. A request
        that met a connection loss or an expired session is sent again until
        ``connection_timeout_ms`` has passed, then ZkUnavailableError (and the last attempt may
        still be applied later: its outcome is unknown). ``resent[i]`` tells whether request
        ``i`` was sent more than once, so its first attempt may have been applied."""
        deadline = time.monotonic() + self.connection_timeout_ms / 1000
        results: list = [None] * len(sends)
        pending = list(range(len(sends)))
        delay = 0.05
        while True:
            sent = [(i, sends[i]()) for i in pending]
            pending = []
            for i, answer in sent:
                try:
                    results[i] = answer.get(timeout=max(0.0, deadline - time.monotonic()))
                except RETRIABLE:
                    pending.append(i)
                except self._kazoo.handler.timeout_exception:
                    raise self._unavailable() from None
                except KazooException as exc:
                    results[i] = exc
            if not pending:
                return results
            if resent is not None:
                for i in pending:
                    resent[i] = True
            if time.monotonic() + delay >= deadline:
                raise self._unavailable()
            time.sleep(delay)
            delay = min(1.0, delay * 2)

    def _unavailable(self) -> ZkUnavailableError:
        return ZkUnavailableError(f"ZooKeeper at {self.connect} did not answer in {self.connection_timeout_ms} ms")

    def _call(self, send: Callable, resent: list[bool] | None = None):
        """One request (see _requests); its exception is raised."""
        result = self._requests([send], resent)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def _transaction(self, ops: list[tuple]):
        tx = self._kazoo.transaction()
        for name, *args in ops:
            getattr(tx, name)(*args)
        return tx.commit_async()

    def _multi(self, ops: list[tuple]) -> list:
        """One ZooKeeper multi: ("create"|"set_data"|"delete"|"check", args...). Returns the
        per-op results, where a failed op's result is its exception (nothing is applied then)."""
        return self._call(lambda: self._transaction(ops))

    def _multi_many(self, batches: list[list[tuple]]) -> list[list]:
        """Many independent multis, pipelined."""
        answers = self._requests([lambda b=b: self._transaction(b) for b in batches])
        for a in answers:
            if isinstance(a, Exception):
                raise a
        return answers

    @staticmethod
    def _fence(expected_controller_epoch_zk_version: int, ops: list[tuple]) -> list[tuple]:
        if expected_controller_epoch_zk_version == MATCH_ANY_VERSION:
            return ops
        return [("check", CONTROLLER_EPOCH_PATH, expected_controller_epoch_zk_version)] + ops

    @staticmethod
    def _unfence(expected_controller_epoch_zk_version: int, results: list) -> list:
        """The results of the fenced ops; ControllerMovedError if the fence failed."""
        if expected_controller_epoch_zk_version == MATCH_ANY_VERSION:
            return results
        check = results[0]
        if isinstance(check, BadVersionError):
            raise ControllerMovedError(
                f"controller epoch zkVersion check failed: expected {expected_controller_epoch_zk_version}"
            )
        if isinstance(check, NoNodeError):
            raise ControllerMovedError(f"{CONTROLLER_EPOCH_PATH} does not exist")
        return results[1:]

    # -- generic paths ----------------------------------------------------------------------
    def get_data_and_stat(self, path: str) -> tuple[bytes | None, ZnodeStat | None]:
        try:
            return self._call(lambda: self._kazoo.get_async(path))
        except NoNodeError:
            return None, None

    def get_data_and_version(self, path: str) -> tuple[bytes | None, int]:
        data, stat = self.get_data_and_stat(path)
        return (data, stat.version) if stat is not None else (None, UNKNOWN_VERSION)

    def get_children(self, path: str) -> list[str]:
        try:
            return self._call(lambda: self._kazoo.get_children_async(path))
        except NoNodeError:
            return []

    def path_exists(self, path: str) -> bool:
        return self._call(lambda: self._kazoo.exists_async(path)) is not None

    def create_recursive(self, path: str, data: bytes = b"", *, throw_if_exists: bool = True) -> None:
        """Create ``path`` and any missing parents (parents empty); NodeExistsError for an
        existing ``path`` only if ``throw_if_exists``."""
        try:
            self._call(lambda: self._kazoo.create_async(path, data, makepath=True))
        except NodeExistsError:
            if throw_if_exists:
                raise

    def make_sure_persistent_path_exists(self, path: str) -> None:
        self.create_recursive(path, throw_if_exists=False)

    def create_sequential_persistent_path(self, path: str, data: bytes) -> str:
        """Create ``path<10-digit sequence>``; returns the path created."""
        return self._call(lambda: self._kazoo.create_async(path, data, sequence=True, makepath=True))

    def conditional_update_path(
        self, path: str, data: bytes, expected_version: int, check: Callable[[bytes | None], bool] | None = None
    ) -> tuple[bool, int]:
        """Set ``path`` to ``data`` if its version is ``expected_version``: (True, new version),
        or (False, -1) on BADVERSION or a missing znode. A set sent again after its connection
        was lost may meet its own first attempt's success as a BADVERSION; then (only then)
        ``check(current_data)`` says whether the znode holds what was written (Kafka's optional
        data checker). A BADVERSION on a first attempt is always a lost race, even when the
        winner wrote the same bytes."""
        resent = [False]
        try:
            return True, self._call(lambda: self._kazoo.set_async(path, data, expected_version), resent).version
        except NoNodeError:
            return False, -1
        except BadVersionError:
            if check is not None and resent[0]:
                current, stat = self.get_data_and_stat(path)
                if stat is not None and stat.version == expected_version + 1 and check(current):
                    return True, stat.version
            return False, -1

    def delete_path(self, path: str, expected_controller_epoch_zk_version: int = MATCH_ANY_VERSION) -> None:
        """Delete ``path`` and everything under it, each delete fenced; a missing path is fine."""
        for child in self.get_children(path):
            self.delete_path(f"{path}/{child}", expected_controller_epoch_zk_version)
        result = self._unfence(
            expected_controller_epoch_zk_version,
            self._multi(self._fence(expected_controller_epoch_zk_version, [("delete", path)])),
        )[0]
        if isinstance(result, Exception) and not isinstance(result, NoNodeError):
            raise result

    # -- watches (callbacks on kazoo threads) -------------------------------------------------
    def watch_data(self, path: str, callback: Callable[[bytes | None, ZnodeStat | None], object]) -> DataWatch:
        """``callback(data, stat)`` now and after every change of ``path`` ((None, None) while it
        does not exist), across reconnections and new sessions, until it returns False."""

        def guarded(data, stat, event=None):
            try:
                return callback(data, stat)
            except Exception:
                log.exception("watch callback for %s failed", path)

        return DataWatch(self._kazoo, path, guarded)

    def watch_children(self, path: str, callback: Callable[[list[str]], object]) -> ChildrenWatch:
        """``callback(children)`` now and after every change of ``path``'s children, until it
        returns False. ``path`` must exist (the persistent paths do)."""

        def guarded(children):
            try:
                return callback(children)
            except Exception:
                log.exception("watch callback for children of %s failed", path)

        return ChildrenWatch(self._kazoo, path, guarded)


def _hex(session_id: int | None) -> str:
    return "none" if session_id is None else f"0x{session_id:x}"
