"""How long to wait before resuming a broken stream, and when to give up.

The wait before attempt ``n`` (1-based) is exponential with jitter::

    ceiling = min(max_delay, base_delay * multiplier ** (n - 1))
    wait    = uniform(ceiling * (1 - jitter), ceiling)

A server's Retry-After wins when it asks for longer.  Each answer has a hard
budget, whatever the stream does:

- at most ``max_attempts`` failures in a row without new text (one outage);
- at most ``max_resumes`` resumes in the whole answer, new text or not
  (default ``RESUMES_PER_ATTEMPT * max_attempts``: ``--retries 1`` means at most
  3 resumes, 4 upstream requests);
- no wait that ends more than ``max_elapsed`` seconds after an outage's first
  failure, nor more than ``max_answer_elapsed`` seconds after the answer began.

New text ends an outage, so a long answer that breaks now and then still
completes; only text the user gets counts (the runner does not call
``progress`` for text the seam trimmer throws away as a repeat).  The clock and
the random source are injected so tests need not wait or guess.
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass

from agents.errors import InvalidSetting, RateLimited, RetryableError

Clock = Callable[[], float]
Random = Callable[[], float]

DEFAULT_MAX_ATTEMPTS = 3
#: Resumes per answer for each allowed attempt, when ``max_resumes`` is not given.
RESUMES_PER_ATTEMPT = 3
#: Seconds from an answer's start after which no more resume is started.
DEFAULT_MAX_ANSWER_ELAPSED = 300.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff settings; validated on construction (raises ``InvalidSetting``)."""

    #: Resume attempts per outage; 0 turns resuming off.
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 8.0
    #: Fraction of each wait that is random (0: none, 1: "full jitter").
    jitter: float = 0.5
    #: Seconds from an outage's first failure beyond which we stop waiting.
    max_elapsed: float = 60.0
    #: Resumes per answer, across outages (``None``: ``RESUMES_PER_ATTEMPT * max_attempts``).
    max_resumes: int | None = None
    #: Seconds from the answer's start beyond which we stop waiting (a wall-clock budget per answer).
    max_answer_elapsed: float = DEFAULT_MAX_ANSWER_ELAPSED

    def __post_init__(self) -> None:
        if not 0 <= self.max_attempts <= 20:
            raise InvalidSetting("retries", self.max_attempts, "a whole number from 0 to 20")
        if self.resume_budget < self.max_attempts:
            raise InvalidSetting("max_resumes", self.max_resumes, f"at least max_attempts ({self.max_attempts})")
        for name in ("base_delay", "max_delay", "max_elapsed", "max_answer_elapsed"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidSetting(name, value, "seconds, 0 or more")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            raise InvalidSetting("multiplier", self.multiplier, "a number of at least 1")
        if not 0 <= self.jitter <= 1:
            raise InvalidSetting("jitter", self.jitter, "a fraction from 0 to 1")

    @property
    def resume_budget(self) -> int:
        """Resumes allowed in one answer: ``max_resumes``, or ``RESUMES_PER_ATTEMPT * max_attempts``."""
        return RESUMES_PER_ATTEMPT * self.max_attempts if self.max_resumes is None else self.max_resumes

    def delay(self, attempt: int, *, retry_after: float | None = None, random: Random = _random.random) -> float:
        """Seconds to wait before ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * self.multiplier ** max(0, attempt - 1))
        wait = ceiling * (1 - self.jitter * random())
        if retry_after is not None and math.isfinite(retry_after) and retry_after > wait:
            wait = retry_after
        return wait


class Backoff:
    """One answer's retry state: counts an outage's attempts and decides each wait.

    Build one when the answer starts: the answer's wall-clock budget runs from then.
    """

    def __init__(self, policy: RetryPolicy, *, clock: Clock = time.monotonic, random: Random = _random.random) -> None:
        self.policy = policy
        self._clock = clock
        self._random = random
        self._answer_started = clock()
        #: Attempts used in the current outage (0 when the stream is healthy).
        self.attempt = 0
        #: Attempts used in this answer, across outages.
        self.total = 0
        self._outage_started: float | None = None

    def progress(self) -> None:
        """New text reached the user: the outage, if any, is over (the answer's budgets are not reset)."""
        self.attempt = 0
        self._outage_started = None

    def next_delay(self, error: RetryableError) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up."""
        now = self._clock()
        if self._outage_started is None:
            self._outage_started = now
        if self.attempt >= self.policy.max_attempts or self.total >= self.policy.resume_budget:
            return None
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        wait = self.policy.delay(self.attempt + 1, retry_after=retry_after, random=self._random)
        if (now - self._outage_started) + wait > self.policy.max_elapsed:
            return None
        if (now - self._answer_started) + wait > self.policy.max_answer_elapsed:
            return None
        self.attempt += 1
        self.total += 1
        return wait
