"""The one path every Salesforce call takes: circuit breaker, call limiter, retry, classification.

A call first meets the breaker (open: `WritersPaused`, nobody calls the org while its budget is
spent), then waits for one of the org-wide call slots (`CallSlotTimeout` if none frees in time),
runs, and has any failure classified (`SalesforceCallFailed`). Transient and session failures are
tried again with exponential backoff and jitter; a budget failure, or an answer showing the daily
usage past the policy's share, opens the breaker for every worker. The gateway wraps each of its
public calls in `GuardedCalls.run`, so no stage can reach Salesforce around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import redis
import structlog
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from workers.salesforce.breaker import CircuitBreaker
from workers.salesforce.errors import (
    CallError,
    CallFailure,
    SalesforceCallFailed,
    classify_exception,
    usage_share,
)
from workers.salesforce.limiter import CallLimiter
from workers.state.keys import Keys

log = structlog.get_logger(__name__)

T = TypeVar("T")


class CallPolicy(Protocol):
    """The part of `workers.salesforce.writer.WriterPolicy` that governs one call."""

    @property
    def max_calls_in_flight(self) -> int: ...
    @property
    def retry_attempts(self) -> int: ...
    @property
    def retry_initial_s(self) -> float: ...
    @property
    def retry_max_s(self) -> float: ...
    @property
    def budget_usage_share(self) -> float: ...
    @property
    def budget_initial_pause_s(self) -> float: ...
    @property
    def budget_max_pause_s(self) -> float: ...
    @property
    def call_lease_s(self) -> float: ...


class GuardedCalls:
    """Runs calls under the policy given (WriterPolicy); `configure` swaps it at run time."""

    def __init__(self, client: redis.Redis, keys: Keys, policy: CallPolicy) -> None:
        self._redis = client
        self._keys = keys
        self.configure(policy)

    def configure(self, policy: CallPolicy) -> None:
        self.policy = policy
        self.breaker = CircuitBreaker(
            self._redis,
            self._keys,
            initial_pause_s=policy.budget_initial_pause_s,
            max_pause_s=policy.budget_max_pause_s,
        )
        self.limiter = CallLimiter(
            self._redis, self._keys, limit=policy.max_calls_in_flight, lease_s=policy.call_lease_s
        )

    def run(
        self,
        call: Callable[[], T],
        *,
        limit_info: Callable[[], str | None],
        renew: Callable[[], None] | None = None,
    ) -> T:
        """`call`, retried with backoff while its failure is transient. `limit_info` gives the
        Sforce-Limit-Info of the answer; `renew` runs before each try (a batch's lease)."""
        p = self.policy
        retrying = Retrying(
            stop=stop_after_attempt(max(1, p.retry_attempts)),
            wait=wait_exponential_jitter(
                multiplier=p.retry_initial_s, max=p.retry_max_s, jitter=p.retry_initial_s
            ),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        return retrying(self._once, call, limit_info, renew)

    def _once(
        self,
        call: Callable[[], T],
        limit_info: Callable[[], str | None],
        renew: Callable[[], None] | None,
    ) -> T:
        self.breaker.raise_if_open()
        if renew is not None:
            renew()
        with self.limiter.slot():
            try:
                result = call()
            except Exception as error:
                classified = classify_exception(error)
                if classified is None:
                    raise
                self._note_failure(classified)
                raise SalesforceCallFailed(classified) from error
        share = usage_share(limit_info())
        if share is not None and share >= self.policy.budget_usage_share:
            state = self.breaker.trip(f"API usage at {share:.0%} of the daily limit")
            log.warning("writers_paused", reason=state.reason, until=state.until)
        else:
            self.breaker.succeeded()
        return result

    def _note_failure(self, error: CallError) -> None:
        self._redis.hincrby(self._keys.stats(), f"call_failures.{error.error_code}", 1)
        log.warning(
            "salesforce_call_failed",
            failure=error.failure.value,
            error_code=error.error_code,
            status=error.status,
        )
        if error.failure is CallFailure.BUDGET:
            state = self.breaker.trip(f"{error.error_code}: {error.message}")
            log.warning("writers_paused", reason=state.reason, until=state.until)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, SalesforceCallFailed):
        return error.error.failure in (CallFailure.TRANSIENT, CallFailure.SESSION)
    return False
