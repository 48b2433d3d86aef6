"""Topic changes the disk refuses (ENOSPC on a partition's files or on the registry) leave no
trace: nothing registered, no partition directory, the registry file as it was, and CreateTopics
/ CreatePartitions answer KAFKA_STORAGE_ERROR. Once the disk takes writes, the same change works."""

import errno
import os

import pytest

from hpbroker.metadata import topics as topics_module
from hpbroker.metadata.topics import TopicRegistry
from hpbroker.protocol.errors import ErrorCode
from hpbroker.storage import manager


@pytest.fixture
def broker(harness):
    harness.create_topic("kept", 1)
    return harness


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def _create(broker, name, partitions=2):
    request = {
        "topics": [
            {"name": name, "num_partitions": partitions, "replication_factor": 1, "assignments": [], "configs": []}
        ],
        "timeout_ms": 1000,
        "validate_only": False,
    }
    (res,) = broker.request(19, 4, request)["topics"]
    return res


def _dirs(tmp_path):
    return sorted(d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d))


def _refusing_second_partition(monkeypatch):
    real = manager.PartitionLog
    calls = []

    def open_log(path, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            os.makedirs(path, exist_ok=True)  # as a real failure halfway: the directory exists
            _enospc()
        return real(path, *a, **k)

    monkeypatch.setattr(manager, "PartitionLog", open_log)


@pytest.mark.parametrize("where", ["partition", "registry"])
def test_create_topic_refused_leaves_nothing(broker, tmp_path, monkeypatch, where):
    registry_before = (tmp_path / "__topics.json").read_bytes()
    with monkeypatch.context() as m:
        if where == "partition":
            _refusing_second_partition(m)
        else:
            m.setattr(TopicRegistry, "_save", _enospc)
        res = _create(broker, "new")
    assert res["error_code"] == ErrorCode.KAFKA_STORAGE_ERROR and "No space" in res["error_message"]
    assert broker.topics.get("new") is None
    rm = broker.broker.replica_manager
    assert not [k for k in rm.partitions if k[0] == "new"] and rm.logs.get("new", 0) is None
    assert _dirs(tmp_path) == ["kept-0"]
    assert (tmp_path / "__topics.json").read_bytes() == registry_before
    assert TopicRegistry(tmp_path / "__topics.json").get("new") is None  # what a restart would see

    assert _create(broker, "new")["error_code"] == 0  # with room again: not TOPIC_ALREADY_EXISTS
    assert broker.topics.get("new").num_partitions == 2 and broker.partition("new", 1) is not None


def test_create_partitions_refused_keeps_the_count(broker, tmp_path, monkeypatch):
    request = {
        "topics": [{"name": "kept", "count": 3, "assignments": None}],
        "timeout_ms": 1000,
        "validate_only": False,
    }
    with monkeypatch.context() as m:
        _refusing_second_partition(m)
        (res,) = broker.request(37, 1, request)["results"]
    assert res["error_code"] == ErrorCode.KAFKA_STORAGE_ERROR
    assert broker.topics.get("kept").num_partitions == 1 and _dirs(tmp_path) == ["kept-0"]
    (res,) = broker.request(37, 1, request)["results"]
    assert res["error_code"] == 0 and broker.topics.get("kept").num_partitions == 3


def test_registry_changes_are_undone_when_the_file_cannot_be_written(tmp_path, monkeypatch):
    reg = TopicRegistry(tmp_path / "__topics.json")
    reg.create("a", 1, {"retention.ms": "1"})
    reg.set_broker_configs({"log.retention.ms": "5"})
    before = reg.to_bytes()
    monkeypatch.setattr(topics_module.os, "fsync", _enospc)
    for change in (
        lambda: reg.create("b", 1),
        lambda: reg.delete("a"),
        lambda: reg.set_partitions("a", 4),
        lambda: reg.set_configs("a", {}),
        lambda: reg.set_broker_configs({}),
    ):
        with pytest.raises(OSError):
            change()
        assert reg.to_bytes() == before
    assert not (tmp_path / "__topics.tmp").exists()
    monkeypatch.undo()
    assert TopicRegistry(tmp_path / "__topics.json").to_bytes() == before
