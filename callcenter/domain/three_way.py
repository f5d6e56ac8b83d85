"""三方通话: a department brought onto a citizen's call, as the call's record keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callcenter.domain.dialing import DialOutcome


@dataclass(frozen=True, slots=True)
class ThreeWayLeg:
    call_id: str  # the citizen's call (its linkedid)
    agent_id: str
    number: str
    department: str | None
    channel_id: str
    started_at: datetime
    # the department's part (what it hears and says), when calls are recorded
    recording: str
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: DialOutcome | None = None
