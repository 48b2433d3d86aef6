"""The safety tick's period (wakeups.SafetyPeriod): short while work flows or waits, doubling
to the idle period once ticks find nothing new."""

from __future__ import annotations

from hpbroker.server.multiproc.wakeups import SafetyPeriod


def test_period_backs_off_when_idle_and_snaps_back_on_work():
    period = SafetyPeriod(0.05, 1.0)
    # (activity counter, something waiting) -> next period
    table = [
        ((0, False), 0.05),  # first tick: the counter is new
        ((0, False), 0.1),  # nothing since: back off
        ((0, False), 0.2),
        ((0, False), 0.4),
        ((0, False), 0.8),
        ((0, False), 1.0),  # capped
        ((0, False), 1.0),
        ((3, False), 0.05),  # work flowed: short again
        ((3, True), 0.05),  # nothing new, but an answer is awaited: stay short
        ((3, False), 0.1),
    ]
    for (activity, waiting), expected in table:
        assert period.next(activity, waiting) == expected


def test_work_after_a_quiet_spell_snaps_the_period_back():
    period = SafetyPeriod(0.05, 1.0)
    assert not period.backed_off()  # a new period starts short
    period.next(0, False)
    assert not period.backed_off()  # 0.05: the next tick is near
    period.next(0, False)
    assert period.backed_off()  # 0.1: further than the busy period
    assert period.snap_back() == 0.05 and not period.backed_off()
    assert period.next(0, False) == 0.1  # a tick that then finds nothing new backs off again
