"""Per-bind send rate: a token bucket that backs off when the SMSC says it is throttling us.

Sans-I/O: `delay(now)` either takes a token (returns 0) or says how long to wait. On
ESME_RTHROTTLED / ESME_RMSGQFUL `penalise()` halves the rate and pauses briefly; the rate then
climbs back by 10% of the configured TPS per second without further complaints.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None, *, now: float = 0.0) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, min(rate, 50.0)))
        self.tokens = self.burst
        self.factor = 1.0  # share of `rate` currently allowed
        self.paused_until = 0.0
        self._last = now

    @property
    def current_rate(self) -> float:
        return max(0.5, self.rate * self.factor)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        self._last = now
        if self.factor < 1.0 and now >= self.paused_until:
            self.factor = min(1.0, self.factor + 0.1 * elapsed)
        self.tokens = min(self.burst, self.tokens + elapsed * self.current_rate)

    def delay(self, now: float) -> float:
        """0.0 and one token taken, or the seconds to wait before asking again."""
        if now < self.paused_until:
            return self.paused_until - now
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.current_rate

    def penalise(self, now: float, pause: float = 1.0) -> None:
        """The SMSC is throttling us: halve the rate (down to 5%) and pause."""
        self._refill(now)
        self.factor = max(0.05, self.factor * 0.5)
        self.tokens = 0.0
        self.paused_until = max(self.paused_until, now + pause)
        self._last = self.paused_until  # no tokens accumulate during the pause
