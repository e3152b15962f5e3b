"""Wall-clock time of the stages of a step, for its log, its documents and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["StageTimer"]


@dataclass
class StageTimer:
    """Seconds of each stage of one step, measured from the end of the previous stage.

    Attributes
    ----------
    seconds : dict of str to float
        ``{"<stage>_s": seconds}`` of the stages done so far, in order (s, rounded to 0.1 ms).
    start : float
        When the timer started (``time.perf_counter()``, s).

    Examples
    --------
    >>> timer = StageTimer()
    >>> timer.done("read")
    >>> sorted(timer.seconds)
    ['read_s']
    """

    seconds: dict[str, float] = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)
    _last: float | None = None

    def done(self, stage: str) -> None:
        """Record the time since the previous stage ended (or the timer started).

        Parameters
        ----------
        stage : str
            Name of the stage that just ended; recorded as ``<stage>_s``.
        """
        now = time.perf_counter()
        self.seconds[f"{stage}_s"] = round(
            now - (self.start if self._last is None else self._last), 4
        )
        self._last = now

    def total(self) -> float:
        """Return the seconds since the timer started (s)."""
        return time.perf_counter() - self.start
