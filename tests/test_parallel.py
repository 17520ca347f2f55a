import os
import sys
import threading
import time

import pytest

from ravdess_prep.build.parallel import LOW_PRIORITY_NICE, map_calls


def _square(value):
    time.sleep(0.001 * (value % 3))  # finish out of order
    return value * value


@pytest.mark.parametrize("jobs", [1, 2, 4])
@pytest.mark.parametrize("ahead", [None, 1, 3])
def test_results_come_in_input_order(jobs, ahead):
    calls = [{"value": value} for value in range(20)]
    assert list(map_calls(_square, calls, jobs=jobs, ahead=ahead)) == [value * value for value in range(20)]


def test_ahead_bounds_the_calls_started_before_their_results_are_read():
    started = []
    lock = threading.Lock()

    def record(value):
        with lock:
            started.append(value)
        return value

    results = map_calls(record, [{"value": value} for value in range(30)], jobs=2, ahead=4)
    for read, value in enumerate(results):
        assert value == read
        time.sleep(0.005)  # give the workers time to run ahead as far as they may
        with lock:
            assert max(started) <= read + 4, (read, sorted(started))


def test_an_error_is_raised_in_order_and_stops_the_calls_not_started():
    started = []

    def work(value):
        started.append(value)
        if value == 2:
            raise ValueError(f"clip {value} is bad")
        return value

    results = map_calls(work, [{"value": value} for value in range(50)], jobs=2, ahead=3)
    assert next(results) == 0
    assert next(results) == 1
    with pytest.raises(ValueError, match="clip 2 is bad"):
        next(results)
    assert max(started) < 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")
def test_low_priority_workers_run_in_the_idle_class_and_the_caller_keeps_its_own():
    def policy(value):
        return os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = policy(None)
    assert before[0] != os.SCHED_IDLE
    low = set(map_calls(policy, [{"value": value} for value in range(8)], jobs=2, low_priority=True))
    assert low == {(os.SCHED_IDLE, before[1])}
    assert policy(None) == before
    normal = set(map_calls(policy, [{"value": value} for value in range(8)], jobs=2))
    assert normal == {before}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")
def test_low_priority_workers_fall_back_to_the_lowest_nice_value(monkeypatch):
    def refused(*args):
        raise PermissionError("not permitted")

    def nice(value):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    monkeypatch.setattr(os, "sched_setscheduler", refused)
    before = nice(None)
    assert set(map_calls(nice, [{"value": value} for value in range(8)], jobs=2, low_priority=True)) == {
        LOW_PRIORITY_NICE}
    assert nice(None) == before
