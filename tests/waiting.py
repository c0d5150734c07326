"""Waiting in tests: poll a condition against a deadline, never sleep a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout_s: float,
    what: str | Callable[[], str],
    interval_s: float = 0.02,
) -> T:
    """Call `condition` until it returns something truthy, and return that.

    Fails with "timed out after Ns waiting for <what>" at the deadline; `what` may be a function,
    to describe the last state seen.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout_s}s waiting for {described}")
        time.sleep(interval_s)
