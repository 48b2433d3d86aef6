"""Replication between Partition objects, step by step, without the network: a leader and its
followers exchanging what Fetch carries (fetch offset -> records, HW, log start offset), the HW
rule, the ISR rules, and truncation by leader epoch (KIP-101, KIP-279) through the fetcher's
``truncation_offset``, on real logs."""

from hpbroker.records.builder import build_batch
from hpbroker.replication.fetcher import truncation_offset
from hpbroker.replication.partition import Partition
from hpbroker.storage import LogConfig, PartitionLog

LEADER, F1, F2 = 1, 2, 3


def _partition(tmp_path, broker_id, leader, epoch=1, isr=(1, 2, 3), replicas=(1, 2, 3)):
    p = Partition("t", 0, PartitionLog(str(tmp_path / f"b{broker_id}"), LogConfig()))
    p.apply_leadership(broker_id, leader, epoch, isr, replicas, 0, 1)
    return p


def _produce(p, *values, pid=-1, seq=-1):
    batch = build_batch([v for v in values], producer_id=pid, producer_epoch=0, base_sequence=seq)
    return p.append_from_client(batch, max_message_bytes=1 << 20, log_append_time=False)


def _fetch(leader, follower, follower_id, now=1):
    """One fetch round: the leader records the follower's LEO, answers up to its own LEO with its
    (new) HW; the follower appends and takes min(leader HW, own LEO)."""
    leader.update_follower_fetch(follower_id, follower.log_end_offset, follower.log_start_offset, now)
    records = leader.log.read_bytes(follower.log_end_offset, 1 << 20, upper_bound=leader.log_end_offset)
    follower.append_as_follower(records)
    follower.follow_leader_offsets(leader.high_watermark, leader.log_start_offset)


def _offsets(p):
    return p.log_end_offset, p.high_watermark


def test_hw_and_leo_over_two_fetch_rounds(tmp_path):
    leader = _partition(tmp_path, LEADER, LEADER, isr=(1, 2), replicas=(1, 2))
    follower = _partition(tmp_path, F1, LEADER, isr=(1, 2), replicas=(1, 2))
    _produce(leader, b"m1", b"m2")
    assert _offsets(leader) == (2, 0) and _offsets(follower) == (0, 0)
    _fetch(leader, follower, F1)  # round 1: the follower gets m1, m2; the leader saw its LEO 0
    assert _offsets(leader) == (2, 0) and _offsets(follower) == (2, 0)
    _fetch(leader, follower, F1)  # round 2: its LEO 2 moves the leader's HW, the answer carries it
    assert _offsets(leader) == (2, 2) and _offsets(follower) == (2, 2)


def test_the_hw_is_the_isrs_minimum_and_never_moves_back(tmp_path):
    leader = _partition(tmp_path, LEADER, LEADER)
    f1 = _partition(tmp_path, F1, LEADER)
    _produce(leader, b"a", b"b", b"c")
    _fetch(leader, f1, F1)
    _fetch(leader, f1, F1)
    assert leader.high_watermark == 0  # F2 (in the ISR) has fetched nothing
    leader.isr = (1, 2)  # F2 left the ISR (the replica manager sets this after ZooKeeper)
    assert leader.maybe_increment_high_watermark() and leader.high_watermark == 3
    leader.isr = (1, 2, 3)
    assert not leader.maybe_increment_high_watermark() and leader.high_watermark == 3


def test_a_lagging_follower_is_out_of_sync_and_rejoins_past_the_hw_and_the_epoch_start(tmp_path):
    leader = _partition(tmp_path, LEADER, LEADER, isr=(1, 2), replicas=(1, 2))
    follower = _partition(tmp_path, F1, LEADER, isr=(1, 2), replicas=(1, 2))
    leader.followers[F1].last_caught_up_time_ms = 1000
    _produce(leader, b"a")
    assert leader.out_of_sync_replicas(now=1000 + 500, max_lag_ms=1000) == []
    assert leader.out_of_sync_replicas(now=1000 + 1001, max_lag_ms=1000) == [F1]
    _fetch(leader, follower, F1, now=5000)
    _fetch(leader, follower, F1, now=5001)  # at the leader's LEO: caught up now
    assert leader.out_of_sync_replicas(now=5001 + 1001, max_lag_ms=1000) == []
    leader.isr = (1,)
    assert leader.follower_in_sync(F1)


def test_followers_keep_the_producer_state_so_a_new_leader_refuses_a_retried_batch(tmp_path):
    leader = _partition(tmp_path, LEADER, LEADER, isr=(1, 2), replicas=(1, 2))
    follower = _partition(tmp_path, F1, LEADER, isr=(1, 2), replicas=(1, 2))
    first = _produce(leader, b"x", b"y", pid=7, seq=0)
    _fetch(leader, follower, F1)
    follower.apply_leadership(F1, F1, 2, (2,), (1, 2), 1, 1)  # F1 is elected
    retried = _produce(follower, b"x", b"y", pid=7, seq=0)
    assert retried.duplicate and retried.base_offset == first.base_offset
    assert follower.log_end_offset == 2
    assert follower.log.leader_epoch_cache.entries() == [(1, 0), (2, 2)]  # KAFKA-7415: at once


def _truncate_against(follower, leader):
    """The follower's truncation loop: OffsetForLeaderEpoch for its latest epoch until done."""
    while True:
        asked = follower.log.leader_epoch_cache.latest_epoch
        epoch, end = leader.log.leader_epoch_cache.end_offset_for(asked, leader.log_end_offset)
        offset, done = truncation_offset(
            epoch, end, follower.log.leader_epoch_cache, follower.log_end_offset, follower.high_watermark
        )
        follower.truncate_to(offset)
        if done:
            return


def _batches(p):
    return [(h.base_offset, h.partition_leader_epoch, h.crc) for h in p.log.iter_batch_headers(0)]


def test_kip_279_two_leader_changes_in_a_row_leave_identical_logs(tmp_path):
    # epoch 1: A (broker 1) holds 0-11, B (broker 2) 0-9
    a = _partition(tmp_path, 1, 1, epoch=1, isr=(1, 2), replicas=(1, 2))
    b = _partition(tmp_path, 2, 1, epoch=1, isr=(1, 2), replicas=(1, 2))
    for i in range(5):
        _produce(a, b"%d" % (2 * i), b"%d" % (2 * i + 1))
    _fetch(a, b, 2)
    _produce(a, b"10", b"11")
    assert (a.log_end_offset, b.log_end_offset) == (12, 10)
    # A dies; B leads epoch 2 and writes 10-14
    b.apply_leadership(2, 2, 2, (2,), (1, 2), 1, 1)
    _produce(b, *[b"b%d" % i for i in range(5)])
    # B dies; A leads epoch 3 (unclean) and writes 12-19
    a.apply_leadership(1, 1, 3, (1,), (1, 2), 2, 1)
    _produce(a, *[b"a%d" % i for i in range(8)])
    assert a.log.leader_epoch_cache.entries() == [(1, 0), (3, 12)]
    assert b.log.leader_epoch_cache.entries() == [(1, 0), (2, 10)]
    # B returns as follower of A: asks for epoch 2, A answers (1, 12), B truncates to 10
    b.apply_leadership(2, 1, 3, (1,), (1, 2), 3, 1)
    assert a.log.leader_epoch_cache.end_offset_for(2, a.log_end_offset) == (1, 12)
    _truncate_against(b, a)
    assert b.log_end_offset == 10
    _fetch(a, b, 2)
    assert _batches(a) == _batches(b)
    assert a.log.leader_epoch_cache.entries() == b.log.leader_epoch_cache.entries()


def test_kip_101_a_follower_with_a_stale_hw_keeps_what_the_leader_acknowledged(tmp_path):
    b = _partition(tmp_path, 2, 2, isr=(1, 2), replicas=(1, 2))  # B leads
    a = _partition(tmp_path, 1, 2, isr=(1, 2), replicas=(1, 2))
    _produce(b, b"m1")
    _produce(b, b"m2")
    _fetch(b, a, 1)  # A has m1, m2; its HW is 0
    b.update_follower_fetch(1, a.log_end_offset, 0, 2)  # A's next fetch moves B's HW to 2 ...
    assert b.high_watermark == 2 and a.high_watermark == 0  # ... and A never sees the answer
    a.apply_leadership(1, 2, 2, (1, 2), (1, 2), 1, 1)  # A restarts: follower again, new epoch
    _truncate_against(a, b)
    assert a.log_end_offset == 2  # truncating to its HW would have dropped the acknowledged m2


def test_a_divergent_tail_after_a_power_loss_is_truncated(tmp_path):
    leader = _partition(tmp_path, 100, 100, epoch=1, isr=(100, 101), replicas=(100, 101))
    follower = _partition(tmp_path, 101, 100, epoch=1, isr=(100, 101), replicas=(100, 101))
    for i in range(10):
        _produce(leader, b"%d" % i)
    _fetch(leader, follower, 101)
    _fetch(leader, follower, 101)
    assert follower.high_watermark == 10
    leader.log.truncate_to(5)  # the power loss took 5-9 from 100's segment
    leader.apply_leadership(100, 100, 2, (100,), (100, 101), 1, 1)
    for i in range(10):
        _produce(leader, b"new%d" % i)
    follower.apply_leadership(101, 100, 2, (100,), (100, 101), 2, 1)
    _truncate_against(follower, leader)
    assert follower.log_end_offset == 5
    _fetch(leader, follower, 101)
    assert _batches(leader) == _batches(follower)
