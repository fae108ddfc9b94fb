"""A strategy's share of the account: target weight and the band it may drift in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Weights:
    target: float = 0.0
    min: float = 0.0
    max: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min <= self.max:
            raise ValueError(f"weights need 0 <= min <= max, got min={self.min} max={self.max}")
        if self.target and not self.min <= self.target <= self.max:
            raise ValueError(
                f"weights need min <= target <= max, got {self.min} <= {self.target} <= {self.max}"
            )

    def in_band(self, weight: float) -> bool:
        return self.min <= weight <= self.max


NO_WEIGHTS = Weights()
#: The backtest's default: the whole account, rebalanced when below 90%.
FULL_WEIGHTS = Weights(target=1.0, min=0.9, max=1.0)
