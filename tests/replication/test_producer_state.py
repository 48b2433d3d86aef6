import pytest

from hpbroker.records.batch import read_header
from hpbroker.records.builder import build_batch
from hpbroker.replication.producer_state import (
    INT32_MAX,
    INVALID_PRODUCER_EPOCH,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    ProducerStateError,
    ProducerStateManager,
    next_sequence,
)


def test_duplicates_of_last_five_batches_are_recognised():
    psm = ProducerStateManager()
    for i in range(7):
        assert psm.check(1, 0, i * 10, i * 10 + 9) is None
        psm.update(1, 0, i * 10, i * 10 + 9, i * 100, i * 100 + 9, -1)
    for i in range(2, 7):  # the last five
        assert psm.check(1, 0, i * 10, i * 10 + 9).first_offset == i * 100
    with pytest.raises(ProducerStateError) as e:  # older than the cached five: not a duplicate
        psm.check(1, 0, 0, 9)
    assert e.value.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER


def test_epoch_rules():
    psm = ProducerStateManager()
    psm.update(1, 3, 0, 4, 0, 4, -1)
    with pytest.raises(ProducerStateError) as e:
        psm.check(1, 2, 5, 9)
    assert e.value.error_code == INVALID_PRODUCER_EPOCH
    with pytest.raises(ProducerStateError) as e:
        psm.check(1, 4, 5, 9)
    assert e.value.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert psm.check(1, 4, 0, 4) is None
    assert psm.check(2, 0, 77, 80) is None  # unknown producer: any sequence


def test_sequence_wraps_past_int32_max():
    assert next_sequence(INT32_MAX) == 0
    psm = ProducerStateManager()
    psm.update(1, 0, INT32_MAX - 1, INT32_MAX, 0, 1, -1)
    assert psm.check(1, 0, 0, 3) is None


def test_rebuild_from_headers():
    batches = [
        build_batch([b"a", b"b"], base_offset=0, producer_id=9, producer_epoch=1, base_sequence=0),
        build_batch([b"c"], base_offset=2, producer_id=9, producer_epoch=1, base_sequence=2),
        build_batch([b"d"], base_offset=3),
    ]
    psm = ProducerStateManager()
    psm.rebuild(read_header(b) for b in batches)
    assert psm.check(9, 1, 2, 2).first_offset == 2
    assert psm.check(9, 1, 3, 3) is None
