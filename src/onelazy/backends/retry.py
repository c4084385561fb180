"""How patiently a failing backend call is retried (no HTTP library needed to say so)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing call is retried: ``attempts`` tries in all, the wait
    doubling from ``first_delay`` up to ``max_delay`` seconds (with a little jitter). The default
    waits about 30 s in all: long enough for a ComfyUI restart (~10 s until its port opens)."""

    attempts: int = 8
    first_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        import random  # only when a call failed: not at start-up

        base = min(self.max_delay, self.first_delay * 2.0 ** (attempt - 1))
        return float(base * (0.85 + 0.3 * random.random()))
