"""Helpers shared by the perf scripts: command-line options, topic creation, percentiles,
JSON results, progress lines and CPU accounting of a broker's process tree.

The scripts are run as files (``python perf/produce_perf.py``), so this directory is on
sys.path and they import this module as ``_common``; nothing here imports hpbroker, so the
tools work against any Kafka-protocol broker.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --- command line ------------------------------------------------------------------------


def add_common_args(parser: argparse.ArgumentParser, script: str) -> None:
    """--bootstrap, --json-out and -X (raw librdkafka settings), the same in every script."""
    parser.add_argument(
        "--bootstrap",
        default="127.0.0.1:9092",
        metavar="HOST:PORT",
        help="bootstrap address of any Kafka-protocol broker (default %(default)s)",
    )
    parser.add_argument(
        "--json-out",
        type=Path,
        default=None,
        help=f"where to write the JSON result (default perf/results/{script}-<time>.json)",
    )
    parser.add_argument(
        "-X",
        dest="client_config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra librdkafka setting for every client, repeatable (e.g. -X fetch.wait.max.ms=10)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def parse_client_config(pairs: list[str]) -> dict[str, str]:
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"-X expects KEY=VALUE, got {pair!r}")
        config[key.strip()] = value.strip()
    return config


def csv_list(cast):
    """argparse type for comma-separated lists: --linger-ms 0,5,20."""

    def parse(text: str):
        return [cast(item) for item in text.split(",") if item.strip()]

    return parse


# --- topics ------------------------------------------------------------------------------


def ensure_topic(
    bootstrap: str, topic: str, partitions: int, client_config: dict | None = None, timeout: float = 15.0
) -> int:
    """Create ``topic`` if missing and wait until its metadata is visible; return its partition
    count. An existing topic is left as it is (its partition count is reported, not changed)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, **(client_config or {})})
    existing = admin.list_topics(timeout=timeout).topics.get(topic)
    if existing is None or existing.error is not None:
        future = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=timeout)[topic]
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    # Brokers may answer CreateTopics before every partition has a leader in the metadata.
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
        if (
            meta is not None
            and meta.error is None
            and meta.partitions
            and all(p.leader >= 0 for p in meta.partitions.values())
        ):
            return len(meta.partitions)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic!r} has no leaders after {timeout}s")
        time.sleep(0.1)


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000)}-{os.getpid()}"


# --- statistics --------------------------------------------------------------------------


def percentiles(values, points=(50, 95, 99, 99.9, 100)) -> dict[str, float | None]:
    """Nearest-rank percentiles, keyed "p50", "p99.9", ... ("max" for 100)."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for point in points:
        key = "max" if point == 100 else f"p{point:g}"
        if not ordered:
            out[key] = None
            continue
        # round() first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point
        rank = max(1, math.ceil(round(point / 100 * len(ordered), 9)))
        out[key] = ordered[rank - 1]
    return out


def rate_summary(records: int, nbytes: int, seconds: float) -> dict[str, float]:
    seconds = max(seconds, 1e-9)
    return {
        "records": records,
        "bytes": nbytes,
        "seconds": round(seconds, 4),
        "records_per_s": round(records / seconds, 1),
        "mb_per_s": round(nbytes / seconds / 1e6, 3),
    }


# --- output ------------------------------------------------------------------------------


class Progress:
    """Prints at most one line per ``interval`` seconds, to stderr so stdout stays parseable."""

    def __init__(self, label: str, interval: float = 2.0, quiet: bool = False):
        self.label, self.interval, self.quiet = label, interval, quiet
        self._next = time.monotonic() + interval

    def due(self) -> bool:
        return not self.quiet and time.monotonic() >= self._next

    def say(self, text: str, force: bool = False) -> None:
        if self.quiet or not (force or self.due()):
            return
        self._next = time.monotonic() + self.interval
        print(f"[{self.label}] {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, object]:
    """Which machine a figure came from: recorded with every result, as the docs name the machine
    of every figure they quote."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "host": platform.node(),
        "free_page_reporting": free_page_reporting(),
    }


# --- freed memory returned to a VM's host ------------------------------------------------
#
# A virtual machine with a virtio-balloon device that has free page reporting hands pages the
# guest frees back to its host; the next write into such a page faults it in from the host
# again. That costs about 2 CPU-s per GB, charged to whichever process first writes the page: a
# broker appending to its page cache, the floor's loop, a client. A broker's CPU per GB then
# depends on how much memory was freed (topics deleted, files closed) and reported since, not on
# the broker (docs/performance.md, "How the figures are taken").
#
# The kernel reports free blocks of at least 2^page_reporting_order pages; an order above the
# buddy allocator's largest (MAX_PAGE_ORDER, 10 on x86-64) means no block qualifies, i.e. off.

PAGE_REPORTING_ORDER = Path("/sys/module/page_reporting/parameters/page_reporting_order")
PAGE_REPORTING_OFF = 11  # above MAX_PAGE_ORDER (10): no free block is large enough to report


def free_page_reporting(path: Path = PAGE_REPORTING_ORDER) -> dict[str, object] | None:
    """The kernel's free page reporting state: None when the kernel has none (bare metal, or no
    balloon device), else its order and whether it is reporting."""
    try:
        order = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return {"page_reporting_order": order, "active": order < PAGE_REPORTING_OFF}


class PausedPageReporting:
    """``with PausedPageReporting(prefault_gb, say)``: stop free page reporting for a run, touch
    ``prefault_gb`` GB of anonymous memory once so that the run starts on pages the host backs,
    and put the previous order back on exit. Needs root (it writes a sysfs parameter); does
    nothing on a kernel without free page reporting. A measurement aid for VMs, not a setting
    for a broker host."""

    def __init__(self, prefault_gb: float = 0.0, say=None, path: Path = PAGE_REPORTING_ORDER):
        self.prefault_gb = prefault_gb
        self.say = say or _stderr
        self.path = path
        self.previous: int | None = None

    def __enter__(self):
        state = free_page_reporting(self.path)
        if state is None:
            self.say("free page reporting: none on this kernel, nothing to pause")
            return self
        self.previous = state["page_reporting_order"]
        try:
            self.path.write_text(f"{PAGE_REPORTING_OFF}\n")
        except OSError as exc:
            self.previous = None
            raise SystemExit(
                f"cannot pause free page reporting ({self.path}: {exc}); run as root or without --pause-page-reporting"
            ) from exc
        self.say(
            f"free page reporting paused (page_reporting_order {state['page_reporting_order']} -> "
            f"{PAGE_REPORTING_OFF}); restored at exit"
        )
        if self.prefault_gb > 0:
            started = time.monotonic()
            try:
                prefault(int(self.prefault_gb * 2**30))
            except BaseException:
                # __exit__ does not run when __enter__ raises (Ctrl-C in a minute-long touch,
                # MemoryError): put the order back here
                self.__exit__(None, None, None)
                raise
            self.say(f"touched {self.prefault_gb:g} GiB of memory in {time.monotonic() - started:.1f} s")
        return self

    def __exit__(self, *exc_info):
        if self.previous is not None:
            self.path.write_text(f"{self.previous}\n")
            self.say(f"free page reporting restored (page_reporting_order {self.previous})")
            self.previous = None
        return False


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def prefault(nbytes: int, chunk: int = 256 * 2**20) -> None:
    """Write every page of ``nbytes`` of anonymous memory once, then free it all: with free page
    reporting paused the pages stay in the guest, backed by the host, for the run that follows."""
    held = []
    try:
        while nbytes > 0:
            n = min(chunk, nbytes)
            held.append(b"\x01" * n)  # bytes * n writes every byte: every page is faulted in
            nbytes -= n
    finally:
        del held


def default_prefault_gb(reserve_gb: float = 2.0) -> float:
    """All the memory the kernel calls available, less ``reserve_gb`` for the run itself."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return max(0.0, int(line.split()[1]) / 2**20 - reserve_gb)
    except OSError:
        pass
    return 0.0


def add_page_reporting_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pause-page-reporting",
        action="store_true",
        help="on a VM with free page reporting (virtio-balloon), stop it for the run and "
        "touch the free memory once first, so that writing new page-cache pages costs "
        "what it costs the broker, not a fault-in from the host (root; restored at exit)",
    )
    parser.add_argument(
        "--prefault-gb",
        type=float,
        default=None,
        help="with --pause-page-reporting: GiB of memory to touch first (default: what "
        "/proc/meminfo calls available, less 2 GiB)",
    )


def page_reporting_for(ns, say=None):
    """The context a script runs its measurements in, from add_page_reporting_args' options.
    Without --pause-page-reporting it only warns when reporting is active."""
    if getattr(ns, "pause_page_reporting", False):
        gb = ns.prefault_gb if ns.prefault_gb is not None else default_prefault_gb()
        return PausedPageReporting(gb, say)
    state = free_page_reporting()
    if state and state["active"]:
        (say or _stderr)(
            "note: this machine returns freed memory to its host (free page reporting); new page-cache "
            "pages may cost ~2 CPU-s/GB more than they would otherwise. --pause-page-reporting (root) "
            'takes that out of the figures (docs/performance.md, "How the figures are taken")'
        )
    return contextlib.nullcontext()


def write_json(result: dict, path: Path | None, script: str) -> Path:
    if path is None:
        path = RESULTS_DIR / f"{script}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "script": script,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
        "machine": machine(),
        **result,
    }
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


# --- CPU accounting ----------------------------------------------------------------------


def own_cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """user+system CPU seconds of the calling process, all its threads (getrusage: exact);
    ``resource.RUSAGE_CHILDREN``: of its children that have been waited for (e.g. a client
    program it ran)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def own_threads_sample() -> dict[int, tuple[str, float, int]]:
    """Each thread of the calling process: ``{tid: (name, CPU seconds, voluntary context
    switches)}``; exact run time where the kernel shows it (``_thread_runtimes``), clock ticks
    otherwise. For splitting a client's CPU between the thread that calls it and librdkafka's own
    threads (``rdk:broker0``, ``rdk:main``), and counting how often each went to sleep."""
    pid = os.getpid()
    exact = _thread_runtimes(pid) or {}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in (int(t) for t in os.listdir(f"/proc/{pid}/task")):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                vol = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):  # the thread exited since the listing
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[tid] = (name, exact.get(tid, (int(fields[11]) + int(fields[12])) / tick), vol)
    return out


def client_threads_between(before: dict, after: dict, caller: int) -> dict[str, float]:
    """Between two ``own_threads_sample``s: CPU seconds of the calling thread (``caller``, its
    native id) and of librdkafka's threads (named ``rdk:...``), and the voluntary context
    switches of librdkafka's broker threads (``rdk:broker...``: each one a sleep, then a
    wake-up)."""
    out = {"app_cpu": 0.0, "librdkafka_cpu": 0.0, "librdkafka_broker_sleeps": 0}
    for tid, (name, cpu, vol) in after.items():
        _, cpu0, vol0 = before.get(tid, (name, 0.0, 0))
        if tid == caller:
            out["app_cpu"] += cpu - cpu0
        elif name.startswith("rdk:"):
            out["librdkafka_cpu"] += cpu - cpu0
            if name.startswith("rdk:broker"):
                out["librdkafka_broker_sleeps"] += vol - vol0
    return out


def _thread_runtimes(pid: int) -> dict[int, float] | None:
    """Exact CPU seconds of each thread of ``pid``: the scheduler's ``se.sum_exec_runtime``
    (/proc/<pid>/task/<tid>/sched, milliseconds with six decimals; kernels built with
    CONFIG_SCHED_DEBUG). None where a thread's file is missing or unreadable."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/sched", "rb") as f:
                text = f.read(4096)
        except FileNotFoundError:  # the thread exited since the listing
            continue
        except OSError:
            return None
        at = text.find(b"se.sum_exec_runtime")
        if at < 0:
            return None
        out[int(tid)] = float(text[text.index(b":", at) + 1 : text.index(b"\n", at)]) / 1e3
    return out


def tree_cpu_sample(pid: int) -> dict:
    """A sample of the CPU time of ``pid`` and its live descendants, for ``cpu_seconds_between``.
    Per process: the kernel's clock-tick totals (user + system, and what it collected from reaped
    children; psutil, /proc/<pid>/stat), and each thread's exact run time where the kernel shows
    it. Clock ticks are 10 ms per process: over a 0.2 GB run of a five-process broker that is
    +-0.05-0.25 CPU-s/GB, more than the differences being measured. Also each
    process's name and voluntary context switches (how often it went to sleep waiting for work,
    i.e. was woken), for figures per role (mp_perf.py)."""
    import psutil

    sample: dict = {}
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return sample
    for proc in procs:
        try:
            with proc.oneshot():
                t, name, wakes = proc.cpu_times(), proc.name(), proc.num_ctx_switches().voluntary
        except psutil.NoSuchProcess:
            continue
        sample[proc.pid] = {
            "ticks": t.user + t.system,
            "children": t.children_user + t.children_system,
            "threads": _thread_runtimes(proc.pid),
            "name": name,
            "wakes": wakes,
        }
    return sample


TICK_SLACK_S = 0.02  # user and system clock ticks, each up to 10 ms short of the exact time


def cpu_seconds_between(before: dict, after: dict) -> float:
    """CPU seconds the process tree used between two ``tree_cpu_sample``s. A process whose
    threads all show their exact run time in both samples, none of them gone, counts exactly
    (threads that started in between from zero), unless its clock ticks exceed that by more than
    TICK_SLACK_S: then a thread seen in neither sample ran in between (one that ran for less can
    go unseen; hpbroker's processes keep their threads, Tansu's runtime keeps its threads for
    seconds). Any other process counts by clock ticks.
    Reaped children count by clock ticks; processes that exited in between are lost (brokers
    reap their children, so that is rare)."""
    total = 0.0
    for pid, b in after.items():
        a = before.get(pid, {"ticks": 0.0, "children": 0.0, "threads": {}})
        total += b["children"] - a["children"]
        ta, tb, ticks = a["threads"], b["threads"], b["ticks"] - a["ticks"]
        exact = None
        if ta is not None and tb is not None and all(tid in tb for tid in ta):
            exact = sum(run - ta.get(tid, 0.0) for tid, run in tb.items())
        # a thread that started and ended in between is in neither sample, only in the ticks
        # (user and system, each rounded down to 10 ms): more than that apart, trust the ticks
        total += ticks if exact is None or ticks - exact > TICK_SLACK_S else exact
    return total


# --- worker processes --------------------------------------------------------------------


def gather(queue, procs, count: int, timeout: float) -> list:
    """``count`` items from ``queue``, failing fast (not after ``timeout``) when a worker
    process died without sending its item, e.g. because its client could not be created."""
    import queue as queue_mod

    items = []
    deadline = time.monotonic() + timeout
    while len(items) < count:
        try:
            items.append(queue.get(timeout=0.2))
            continue
        except queue_mod.Empty:
            pass
        dead = [p for p in procs if p.exitcode not in (None, 0)]
        if dead:
            raise RuntimeError(f"worker process {dead[0].name} exited with code {dead[0].exitcode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count - len(items)} of {count} workers did not report in {timeout}s")
    return items


def stop_processes(procs, timeout: float = 5.0) -> None:
    for proc in procs:
        proc.join(timeout=timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
