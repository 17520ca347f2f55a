import functools
import os
import sys
import threading
import time

import pytest

from ravdess_prep.build.parallel import LOW_PRIORITY_NICE, map_calls, map_in_turns


def _square(value):
    time.sleep(0.001 * (value % 3))  # finish out of order
    return value * value


@pytest.mark.parametrize("jobs", [1, 2, 4])
@pytest.mark.parametrize("mapper", [functools.partial(map_calls, ahead=ahead) for ahead in (None, 1, 3)]
                         + [functools.partial(map_in_turns, turn=turn) for turn in (1, 3, 7, 50)],
                         ids=[f"ahead {ahead}" for ahead in (None, 1, 3)] + [f"turn {turn}" for turn in (1, 3, 7, 50)])
def test_results_come_in_input_order(jobs, mapper):
    calls = [{"value": value} for value in range(20)]
    assert list(mapper(_square, calls, jobs=jobs)) == [value * value for value in range(20)]


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


def _failing_at(bad: int, started: list):
    """A call that records each value it starts on and raises on ``bad``."""
    def work(value):
        started.append(value)
        if value == bad:
            raise ValueError(f"clip {value} is bad")
        return value
    return work


def test_an_error_is_raised_in_order_and_stops_the_calls_not_started():
    started = []
    results = map_calls(_failing_at(2, started), [{"value": value} for value in range(50)], jobs=2, ahead=3)
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


def test_a_turn_is_finished_before_its_results_and_nothing_runs_while_the_caller_works():
    events = []
    lock = threading.Lock()

    def work(value):
        with lock:
            events.append(("start", value))
        time.sleep(0.002 * (value % 2))
        with lock:
            events.append(("end", value))
        return value

    for value in map_in_turns(work, [{"value": value} for value in range(10)], jobs=2, turn=4):
        with lock:
            events.append(("read", value))
        time.sleep(0.01)  # the caller's own work: time for a worker to start a call, if one could
    reads = [index for index, event in enumerate(events) if event[0] == "read"]
    for turn_start in (0, 4, 8):
        members = set(range(turn_start, min(turn_start + 4, 10)))
        first_read = events.index(("read", turn_start))
        done = {value for kind, value in events[:first_read] if kind == "end"}
        assert members <= done, (turn_start, events)  # every call of the turn ended before its first result
        last_read = events.index(("read", max(members)))
        between = [event for event in events[first_read:last_read + 1] if event[0] != "read"]
        assert between == [], (turn_start, events)  # no call started or ended while the caller read them
    assert len(reads) == 10


def test_turns_raise_an_error_at_its_result_after_the_results_before_it():
    started = []
    results = map_in_turns(_failing_at(5, started), [{"value": value} for value in range(20)], jobs=2, turn=4)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="clip 5 is bad"):
        next(results)
    assert sorted(started) == list(range(8))  # the failing call's turn, and no later one


@pytest.mark.parametrize("every_core", [True, False])
def test_the_embed_step_takes_turns_only_with_a_model_that_uses_every_core(monkeypatch, every_core):
    from types import SimpleNamespace

    from ravdess_prep.build import local, parallel

    used = []

    def recorded(name, real):
        def mapper(function, calls, **kwargs):
            used.append((name, kwargs))
            return real(function, calls, **kwargs)
        return mapper

    monkeypatch.setattr(local, "map_in_turns", recorded("turns", parallel.map_in_turns))
    monkeypatch.setattr(local, "map_calls", recorded("beside", parallel.map_calls))
    clips = [SimpleNamespace(name=f"clip{index}") for index in range(5)]
    recipe = SimpleNamespace(embedder=SimpleNamespace(model_uses_every_core=lambda: every_core),
                             prepare=lambda offsets, fast: offsets.name.upper(),
                             embed=lambda prepared, names, **kwargs: (list(prepared), names))
    result = local.embed(recipe, SimpleNamespace(kept=clips), jobs=2)
    assert result == (["CLIP0", "CLIP1", "CLIP2", "CLIP3", "CLIP4"], [clip.name for clip in clips])
    if every_core:
        assert used == [("turns", {"jobs": 2, "turn": local.AHEAD_CLIPS})]
    else:
        assert used == [("beside", {"jobs": 2, "ahead": local.AHEAD_CLIPS, "low_priority": True})]


def test_the_pytorch_embedders_use_every_core_on_a_cpu_and_the_others_do_not(monkeypatch):
    from ravdess_prep.embedders import layer_stack
    from ravdess_prep.pipeline import EGeMAPSEmbedder, HFEmbedder, VGGishEmbedder, WhisperEmbedder, YAMNetEmbedder

    for device, expected in (("cpu", True), ("cuda", False)):
        monkeypatch.setattr(layer_stack, "torch_device", lambda: device)
        assert WhisperEmbedder().model_uses_every_core() is expected
        assert HFEmbedder().model_uses_every_core() is expected
    for embedder in (VGGishEmbedder(), YAMNetEmbedder(), EGeMAPSEmbedder()):
        assert embedder.model_uses_every_core() is False
