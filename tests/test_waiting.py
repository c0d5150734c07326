"""The tests' wait helper: returns the condition's value, or fails naming what it waited for."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.waiting import wait_until


def test_returns_the_first_truthy_value_of_the_condition():
    calls = itertools.count(1)
    assert wait_until(lambda: next(calls) >= 3 and "ready", timeout_s=5, what="x") == "ready"
    assert next(calls) == 4


def test_fails_at_the_deadline_naming_what_it_waited_for():
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"timed out after 0.1s waiting for the queue, 3 left"):
        wait_until(lambda: False, timeout_s=0.1, what=lambda: "the queue, 3 left")
    assert 0.1 <= time.monotonic() - started < 2
