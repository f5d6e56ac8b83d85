"""What a waiting caller is told: position and estimated wait, as prompt keys."""

from __future__ import annotations

import math
from datetime import timedelta

MAX_SPOKEN = 99


def number_keys(n: int) -> list[str]:
    """Prompt keys that say `n` (0-99) in Chinese: 十, 二十三 ... each digit a recording."""
    if not 0 <= n <= MAX_SPOKEN:
        raise ValueError(f"{n} is outside 0..{MAX_SPOKEN}")
    if n <= 10:
        return [f"num_{n}"]
    tens, ones = divmod(n, 10)
    keys = [] if tens == 1 else [f"num_{tens}"]
    keys.append("num_10")
    if ones:
        keys.append(f"num_{ones}")
    return keys


def estimated_wait(position: int, handle_time: timedelta, serving_agents: int) -> timedelta:
    """Position × handle time, shared among the agents who can serve the call."""
    return handle_time * position / max(1, serving_agents)


def position_announcement(position: int, wait: timedelta) -> list[str]:
    """「您前面还有 N 位来电在等待，预计等待约 M 分钟」 as prompt keys."""
    if position > MAX_SPOKEN:
        keys = ["queue_position_many"]
    else:
        keys = ["queue_position_before", *number_keys(position), "queue_position_after"]
    minutes = min(MAX_SPOKEN, max(1, math.ceil(wait.total_seconds() / 60)))
    return [*keys, "queue_wait_before", *number_keys(minutes), "queue_wait_after"]
