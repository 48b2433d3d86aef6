"""The partition side of transactions: transactional batches open a producer's transaction, the
coordinator's markers close it, aborted ones go to the segment's .txnindex (Kafka's layout), the
last stable offset holds at the first open transaction, and all of it survives a restart."""

import os
import struct

from hpbroker.records import batch as rb
from hpbroker.records.builder import ABORT, COMMIT, build_batch, build_control_batch
from hpbroker.records.layout import TRANSACTIONAL_MASK
from hpbroker.replication.partition import AppendError, Partition
from hpbroker.storage import LogConfig, PartitionLog
from hpbroker.storage.txn_index import AbortedTxn, read_entries

P1, P2 = 7, 8


def _open(path, segment_bytes=1 << 20):
    return Partition("t", 0, PartitionLog(str(path), LogConfig(segment_bytes=segment_bytes)))


def _txn(seq, pid=P1, epoch=0, records=2):
    return build_batch(
        [b"v" * 20] * records, producer_id=pid, producer_epoch=epoch, base_sequence=seq, attributes=TRANSACTIONAL_MASK
    )


def _plain(n=1):
    return build_batch([b"p"] * n)


def _append(p, buf):
    return p.append_from_client(buf, max_message_bytes=1 << 20, log_append_time=False)


def test_lso_holds_at_the_first_open_transaction_and_moves_at_its_marker(tmp_path):
    p = _open(tmp_path / "t-0")
    _append(p, _plain())  # offset 0
    assert p.last_stable_offset == 1
    _append(p, _txn(0, P1))  # 1-2
    _append(p, _plain())  # 3
    _append(p, _txn(0, P2))  # 4-5
    assert p.high_watermark == 6
    assert p.last_stable_offset == 1
    assert p.append_marker(P1, 0, True, 0) == 6
    assert p.last_stable_offset == 4
    assert p.aborted_transactions(0, 7) == []
    assert p.append_marker(P2, 0, False, 0) == 7
    assert p.last_stable_offset == 8
    assert p.aborted_transactions(0, 8) == [AbortedTxn(P2, 4, 7, 8)]
    assert p.aborted_transactions(8, 9) == []
    # the marker is a control batch of one record
    h = next(h for h in p.log.iter_batch_headers(7))
    assert h.is_control and h.is_transactional and h.producer_id == P2


def test_txnindex_has_kafkas_layout(tmp_path):
    p = _open(tmp_path / "t-0")
    _append(p, _txn(0, P1))  # 0-1
    _append(p, _txn(0, P2))  # 2-3
    p.append_marker(P1, 0, False, 3)  # 4: P2 still open at 2
    path = os.path.join(p.log.directory, f"{0:020d}.txnindex")
    with open(path, "rb") as f:
        data = f.read()
    assert data == struct.pack(">hqqqq", 0, P1, 0, 4, 2)
    assert p.aborted_transactions(3, 5) == [AbortedTxn(P1, 0, 4, 2)]
    assert p.aborted_transactions(5, 6) == []


def test_non_transactional_batch_inside_a_transaction_is_refused(tmp_path):
    p = _open(tmp_path / "t-0")
    _append(p, _txn(0))
    plain_idempotent = build_batch([b"x"], producer_id=P1, producer_epoch=0, base_sequence=2)
    try:
        _append(p, plain_idempotent)
    except AppendError as exc:
        assert exc.error_code == 48  # INVALID_TXN_STATE
    else:
        raise AssertionError("accepted")


def test_a_marker_with_a_bumped_epoch_fences_the_old_epoch(tmp_path):
    p = _open(tmp_path / "t-0")
    _append(p, _txn(0, epoch=0))
    p.append_marker(P1, 1, False, 0)  # the coordinator fenced epoch 0
    try:
        _append(p, _txn(2, epoch=0))
    except AppendError as exc:
        assert exc.error_code == 47  # INVALID_PRODUCER_EPOCH
    else:
        raise AssertionError("accepted")
    _append(p, _txn(0, epoch=1))  # the new epoch starts at sequence 0
    assert p.last_stable_offset == 3
    try:
        p.append_marker(P1, 1, True, -1)  # an older coordinator
    except AppendError as exc:
        assert exc.error_code == 52  # TRANSACTION_COORDINATOR_FENCED
    else:
        raise AssertionError("accepted")


def test_open_transactions_survive_a_restart_with_and_without_a_snapshot(tmp_path):
    path = tmp_path / "t-0"
    p = _open(path)
    _append(p, _plain())
    _append(p, _txn(0, P1))  # 1-2
    _append(p, _txn(0, P2))  # 3-4
    p.append_marker(P2, 0, False, 0)  # 5
    p.write_producer_snapshot()
    p.log.close()
    p = _open(path)
    assert p.last_stable_offset == 1
    assert p.aborted_transactions(0, 6) == [AbortedTxn(P2, 3, 5, 1)]
    p.append_marker(P1, 0, True, 0)
    assert p.last_stable_offset == 7
    p.log.close()
    for name in os.listdir(path):  # no snapshot: the headers are replayed
        if name.endswith(".snapshot"):
            os.unlink(path / name)
    p = _open(path)
    assert p.last_stable_offset == 7 and p.producer_state.ongoing == {}


def test_replay_from_the_log_reopens_an_open_transaction(tmp_path):
    path = tmp_path / "t-0"
    p = _open(path)
    _append(p, _txn(0, P1))
    p.log.close()
    for name in os.listdir(path):
        if name.endswith(".snapshot"):
            os.unlink(path / name)
    p = _open(path)
    assert p.producer_state.ongoing == {P1: 0}
    assert p.last_stable_offset == 0


def test_truncation_drops_index_entries_past_it_and_rolls_keep_them(tmp_path):
    p = _open(tmp_path / "t-0", segment_bytes=300)
    for i in range(4):
        _append(p, _txn(2 * i, P1))
        p.append_marker(P1, 0, False, 0)
    entries = [e for seg in p.log.segments for e in seg.txn_index.entries()]
    assert len(entries) == 4 and len(p.log.segments) > 1
    assert [t.first_offset for t in p.aborted_transactions(0, p.log_end_offset)] == [0, 3, 6, 9]
    p.truncate_to(8)
    assert [t.first_offset for t in p.aborted_transactions(0, p.log_end_offset)] == [0, 3]
    assert p.producer_state.ongoing == {P1: 6}
    assert sum(len(read_entries(seg.txn_index.path)) for seg in p.log.segments) == 2


def test_a_follower_indexes_the_leaders_abort_markers(tmp_path):
    leader = _open(tmp_path / "a")
    _append(leader, _txn(0, P1))
    leader.append_marker(P1, 0, False, 0)
    _append(leader, _txn(2, P1))
    data = leader.log.read_bytes(0, 1 << 20)
    follower = _open(tmp_path / "b")
    follower.replicated = True
    follower.append_as_follower(bytearray(data))
    follower.follow_leader_offsets(leader.high_watermark, 0)
    assert follower.aborted_transactions(0, 10) == [AbortedTxn(P1, 0, 2, 3)]
    assert follower.producer_state.ongoing == {P1: 3}
    assert follower.last_stable_offset == 3


def test_the_lso_waits_for_the_marker_to_be_replicated(tmp_path):
    p = _open(tmp_path / "t-0")
    p.replicated = True
    p.isr = (1, 2)
    from hpbroker.replication.partition import FollowerState

    p.followers = {2: FollowerState(log_end_offset=0)}
    _append(p, _txn(0, P1))
    p.append_marker(P1, 0, True, 0)
    assert p.high_watermark == 0 and p.last_stable_offset == 0
    p.update_follower_fetch(2, 2, 0, 0)
    assert p.high_watermark == 2 and p.last_stable_offset == 0  # the marker (2) is not below it
    p.update_follower_fetch(2, 3, 0, 0)
    assert p.last_stable_offset == 3


def test_clients_may_not_send_markers(tmp_path):
    p = _open(tmp_path / "t-0")
    marker = build_control_batch(COMMIT, producer_id=P1, producer_epoch=0)
    try:
        _append(p, marker)
    except AppendError as exc:
        assert exc.error_code == rb.INVALID_RECORD
    else:
        raise AssertionError("accepted")
    assert ABORT == 0


def _keyed_txn(seq, key, value, pid=P1, epoch=0):
    return build_batch(
        [(key, value)], producer_id=pid, producer_epoch=epoch, base_sequence=seq, attributes=TRANSACTIONAL_MASK
    )


def test_the_cleaner_drops_aborted_records_and_stops_at_the_lso(tmp_path):
    from hpbroker.records.records import iter_batch_records
    from hpbroker.storage.cleaner import clean_log

    cfg = LogConfig(segment_bytes=200, cleanup_delete=False, cleanup_compact=True)
    p = Partition("t", 0, PartitionLog(str(tmp_path / "t-0"), cfg))
    _append(p, build_batch([(b"k", b"committed")]))  # 0
    _append(p, _keyed_txn(0, b"k", b"aborted"))  # 1
    p.append_marker(P1, 0, False, 0)  # 2
    _append(p, _keyed_txn(1, b"j", b"open", pid=P2))  # 3: P2's transaction stays open
    for i in range(6):
        _append(p, build_batch([(b"z%d" % i, b"x")]))
    assert len(p.log.segments) > 3
    clean_log(p.log, 2**62)
    values = {}
    for h in p.log.iter_batch_headers(0):
        if h.is_control:
            continue
        for r in iter_batch_records(p.log.read_bytes(h.base_offset, 1 << 20), 0):
            values.setdefault(r.key, []).append((r.offset, r.value))
    assert values[b"k"] == [(0, b"committed")]  # the aborted value neither kept nor superseding
    assert values[b"j"] == [(3, b"open")]
    assert p.last_stable_offset == 3
    assert p.log.cleaner_offset <= 3


def test_an_index_entry_lost_in_a_crash_is_written_again_at_start(tmp_path):
    path = tmp_path / "t-0"
    p = _open(path)
    _append(p, _txn(0, P1))  # 0-1
    p.append_marker(P1, 0, False, 0)  # 2
    p.log.close()
    for name in os.listdir(path):  # the crash: no snapshot yet, the entry not written
        if name.endswith((".snapshot", ".txnindex")):
            os.unlink(path / name)
    p = _open(path)
    assert p.aborted_transactions(0, 3) == [AbortedTxn(P1, 0, 2, 3)]
    p.log.close()
    p = _open(path)  # found in the index this time: not written twice
    assert p.aborted_transactions(0, 3) == [AbortedTxn(P1, 0, 2, 3)]
