"""Skill-based routing: which ready agent takes a call, which waiting call an agent takes.

Pure and synchronous: the caller passes the time in. The router holds only what routing needs,
the skills of every agent, which agents are ready (and since when), and the waiting calls.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callcenter.domain.errors import InvalidInput

Requirements = Mapping[str, int]
SKILL_LEVELS = range(1, 6)
DEFAULT_REQUIREMENTS: dict[str, int] = {"lang:mandarin": 1}
# the wait after which no overflow rule ever applies
NEVER = timedelta.max
# (skill, level) pairs a router remembers as well formed
_CHECKED_KEPT = 4096


def check_skill(name: str, level: int) -> None:
    if not _well_formed(name):
        raise InvalidInput(f"skill {name!r} must look like kind:value, e.g. lang:mandarin")
    if level not in SKILL_LEVELS:
        raise InvalidInput(f"skill {name} level {level} must be 1 to 5")


@functools.lru_cache(maxsize=4096)
def _well_formed(name: str) -> bool:
    # every call's requirements are checked: a hotline has a few dozen skill names
    kind, sep, value = name.partition(":")
    return bool(sep and kind and value and len(name) <= 64 and not any(c.isspace() for c in name))


def queue_name(requirements: Requirements) -> str:
    """The skill group a call waits in, named by what it originally asked for."""
    return "+".join(sorted(requirements)) or "any"


@dataclass(frozen=True, slots=True)
class OverflowRule:
    """After `after` of waiting, relax the call's requirements.

    `min_level` lowers every required level to at most this; `drop` removes the skills whose
    name starts with one of these prefixes (e.g. "topic:"); skills starting with one of `keep`
    are never dropped (e.g. the language: a caller must be understood)."""

    name: str
    after: timedelta
    min_level: int | None = None
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ("lang:",)

    def apply(self, requirements: Requirements) -> dict[str, int]:
        relaxed: dict[str, int] = {}
        for skill, level in requirements.items():
            kept = skill.startswith(self.keep) if self.keep else False
            if not kept and self.drop and skill.startswith(self.drop):
                continue
            relaxed[skill] = min(level, self.min_level) if self.min_level else level
        return relaxed


DEFAULT_OVERFLOW = (
    OverflowRule("any-level-after-20s", timedelta(seconds=20), min_level=1),
    OverflowRule("drop-topic-after-60s", timedelta(seconds=60), min_level=1, drop=("topic:",)),
)


@dataclass(slots=True)
class WaitingCall:
    call_id: str
    requirements: dict[str, int]
    priority: int
    wait_start: datetime
    queue: str = ""
    # a call whose agent did not answer goes back to the head of its priority
    requeued: bool = False
    seq: int = 0
    # (waited at least, requirements, rule name): the overflow ladder, worked out once
    stages: tuple[tuple[timedelta, dict[str, int], str | None], ...] = ()

    def order(self) -> tuple[int, int, datetime, int]:
        return (-self.priority, 0 if self.requeued else 1, self.wait_start, self.seq)


@dataclass(frozen=True, slots=True)
class Assignment:
    call_id: str
    agent_id: str
    requirements: dict[str, int]
    overflow_rule: str | None
    waited: timedelta


# a bucket of ready agents: one (skill, level) pair, or two pairs (skills in name order)
_BucketKey = tuple[str, int] | tuple[str, int, str, int]
# (ready since, agent id, ready token, agent): the entry is current while the agent holds that
# token (tokens are unique, so heap order never compares the agents themselves)
_Entry = tuple[datetime, str, int, "_Agent"]
# entries a bucket may hold beyond twice its members before it is compacted
_BUCKET_SLACK = 16
_TOP = SKILL_LEVELS[-1]
# a skill's buckets by level, a pair's buckets by level_a * _SIDE + level_b (None: no bucket)
_SIDE = _TOP + 1
# a waiting call in the order calls are served: (order key, id, call)
_Queued = tuple[tuple[int, int, datetime, int], str, "WaitingCall"]
# fewer waiting calls than this: a free agent scans them rather than asking the call index
_SCAN_BELOW = 32


@dataclass(slots=True, eq=False)
class _Bucket:
    """Ready agents in a heap by ready time. An agent leaving readiness touches no bucket: its
    entries go stale, are dropped at the head when looked at, and all at once when the heap
    reaches twice the bucket's members (plus a slack): a compaction keeps at most one entry
    per member, so at least as many pushes come before the next one (amortized O(1))."""

    heap: list[_Entry] = field(default_factory=list)
    # agents (their current records) holding this bucket, ready or not
    members: int = 0


@dataclass(slots=True, eq=False)
class _Agent:
    skills: dict[str, int]
    ready_since: datetime | None = None
    # which readiness the index entries belong to; 0 while not ready: entries carrying
    # another token are stale
    token: int = 0
    buckets: tuple[_BucketKey, ...] = ()
    # the same skills for the call index: (skill, level), and ((skill, skill), level, level)
    # for each pair in name order
    singles: tuple[tuple[str, int], ...] = ()
    pairs: tuple[tuple[tuple[str, str], int, int], ...] = ()
    # the buckets themselves (with the one of all ready agents), once the agent was ready;
    # not in the repr: a bucket's entries name their agents
    in_buckets: tuple[_Bucket, ...] = field(default=(), repr=False)


def _bucket_keys(skills: Mapping[str, int]) -> tuple[_BucketKey, ...]:
    pairs = sorted(skills.items())
    keys: list[_BucketKey] = [(skill, level) for skill, level in pairs]
    for (a, la), (b, lb) in itertools.combinations(pairs, 2):
        keys.append((a, la, b, lb))
    return tuple(keys)


@dataclass
class Router:
    rules: Sequence[OverflowRule] = DEFAULT_OVERFLOW
    _agents: dict[str, _Agent] = field(default_factory=dict)
    _ready: set[str] = field(default_factory=set)
    # (skill, level) and (skill, level, skill, level) -> heap of ready agents by ready time:
    # the best agent for one or two required skills is found by looking at the heads of at
    # most 25 heaps instead of scanning every ready agent (stale entries are dropped lazily)
    _buckets: dict[_BucketKey, _Bucket] = field(default_factory=dict)
    _anyone: _Bucket = field(default_factory=_Bucket)
    # the same buckets by skill, and by pair of skills (in name order), indexed by level(s):
    # a decision finds them without building a key per level looked at
    _by_skill: dict[str, list[_Bucket | None]] = field(default_factory=dict)
    _by_pair: dict[tuple[str, str], list[_Bucket | None]] = field(default_factory=dict)
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _first_rule: timedelta | None = None
    _waiting: dict[str, WaitingCall] = field(default_factory=dict)
    # the waiting calls in the order they are served
    _order: list[_Queued] = field(default_factory=list)
    # the call index: the same calls by the requirements in force on their rung of the
    # overflow ladder (none; one skill by level; two skills by levels; anything else), each
    # list in serving order, so a free agent looks at the heads of the lists it can serve
    _calls_anyone: list[_Queued] = field(default_factory=list)
    _calls_by_skill: dict[str, list[list[_Queued]]] = field(default_factory=dict)
    _calls_by_pair: dict[tuple[str, str], list[list[_Queued]]] = field(default_factory=dict)
    _calls_other: list[_Queued] = field(default_factory=list)
    # call id -> (its list in the call index, its rung)
    _listed: dict[str, tuple[list[_Queued], int]] = field(default_factory=dict)
    # (when, tie, call, rung): a call climbs to that rung of its ladder at that time
    _climbs: list[tuple[datetime, int, WaitingCall, int]] = field(default_factory=list)
    _climb_ties: itertools.count[int] = field(default_factory=itertools.count)
    # the latest time the climbs were applied up to: the index holds the rungs in force then
    _climbed_to: datetime | None = None
    # (skill, level) pairs calls asked for that passed check_skill: a call's requirements are
    # checked once per router, not on every call
    _checked: set[tuple[str, int]] = field(default_factory=set)
    # the overflow rules by their wait, and the ladder's rungs: 0, then each rule's wait
    _sorted_rules: tuple[OverflowRule, ...] | None = None
    _afters: tuple[timedelta, ...] | None = None
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    # ---- agents ----
    def set_skills(self, agent_id: str, skills: Mapping[str, int]) -> None:
        for name, level in skills.items():
            check_skill(name, level)
        old = self._agents.get(agent_id)
        ready_since = old.ready_since if old is not None else None
        self._leave(agent_id)
        keys = _bucket_keys(skills)
        self._agents[agent_id] = _Agent(
            dict(skills),
            buckets=keys,
            singles=tuple((k[0], int(k[1])) for k in keys if len(k) == 2),
            pairs=tuple(((k[0], k[2]), int(k[1]), int(k[3])) for k in keys if len(k) == 4),
        )
        if ready_since is not None:
            self._mark_ready(agent_id, ready_since)

    def remove_agent(self, agent_id: str) -> None:
        self._leave(agent_id)
        self._agents.pop(agent_id, None)

    def _leave(self, agent_id: str) -> None:
        """The agent's record is about to go: it is no longer ready nor a member of its
        buckets (its entries there are stale)."""
        self.agent_unavailable(agent_id)
        agent = self._agents.get(agent_id)
        if agent is not None:
            for bucket in agent.in_buckets:
                bucket.members -= 1
            agent.in_buckets = ()

    def skills(self, agent_id: str) -> dict[str, int]:
        return dict(self._agents[agent_id].skills) if agent_id in self._agents else {}

    def agent_ready(self, agent_id: str, idle_since: datetime, now: datetime) -> Assignment | None:
        """The agent is free: give them the best call they can serve, else keep them ready."""
        agent = self._agents.get(agent_id)
        if agent is None:
            raise InvalidInput(f"agent {agent_id} has no skills registered with the router")
        if self._order:
            if len(self._order) < _SCAN_BELOW or (
                self._climbed_to is not None and now < self._climbed_to
            ):
                found = self._first_servable(agent.skills, now)
            else:
                found = self._first_servable_indexed(agent, now)
            if found is not None:
                call, requirements, rule = found
                self._remove_call(call.call_id)
                self.agent_unavailable(agent_id)
                waited = now - call.wait_start
                return Assignment(call.call_id, agent_id, dict(requirements), rule, waited)
        self._mark_ready(agent_id, idle_since)
        return None

    def _first_servable(
        self, skills: Mapping[str, int], now: datetime
    ) -> tuple[WaitingCall, dict[str, int], str | None] | None:
        """The first waiting call in order that these skills serve under the requirements in
        force at `now`, with those requirements and the overflow rule that set them.

        The hot loop of an overloaded hotline. A call's rung on the overflow ladder is found
        by comparing its wait start with `now - after` of each rung, worked out once per pass
        (the same comparisons as `now - wait_start < after`, without a timedelta per call)."""
        afters = self._afters
        if afters is None:
            afters = self._afters = (timedelta(0), *sorted(r.after for r in self.rules))
        try:
            cutoffs = [now - after for after in afters]
        except OverflowError:  # a rung beyond the calendar: compare the waits themselves
            return self._first_servable_by_wait(skills, now)
        fresh = cutoffs[1] if len(cutoffs) > 1 else None
        get = skills.get
        for _, _, call in self._order:
            start = call.wait_start
            requirements, rule = call.requirements, None
            if fresh is not None and start <= fresh:
                stages = call.stages or self._set_ladder(call)
                for cutoff, stage in zip(cutoffs, stages, strict=True):
                    if start > cutoff:
                        break
                    requirements, rule = stage[1], stage[2]
            for skill, level in requirements.items():
                if get(skill, 0) < level:
                    break
            else:
                return call, requirements, rule
        return None

    def _first_servable_indexed(
        self, agent: _Agent, now: datetime
    ) -> tuple[WaitingCall, dict[str, int], str | None] | None:
        """What `_first_servable` finds, from the call index: the calls whose ladder reached
        another rung by `now` are moved first, then the first in order of the heads of the
        lists this agent serves (and of the calls needing three skills or more) wins."""
        climbs = self._climbs
        if climbs and climbs[0][0] <= now:
            self._climb(now)
        if self._climbed_to is None or self._climbed_to < now:
            self._climbed_to = now
        best = self._calls_anyone[0] if self._calls_anyone else None
        by_skill = self._calls_by_skill
        for skill, level in agent.singles:
            lists = by_skill.get(skill)
            if lists is not None:
                for need in range(1, level + 1):
                    listed = lists[need]
                    if listed and (best is None or listed[0] < best):
                        best = listed[0]
        by_pair = self._calls_by_pair
        for pair, level_a, level_b in agent.pairs:
            grid = by_pair.get(pair)
            if grid is not None:
                for first in range(_SIDE + 1, level_a * _SIDE + 2, _SIDE):
                    for listed in grid[first : first + level_b]:
                        if listed and (best is None or listed[0] < best):
                            best = listed[0]
        skills = agent.skills
        for queued in self._calls_other:
            if best is not None and best < queued:
                break
            call = queued[2]
            stage = call.stages[self._listed[queued[1]][1]]
            if _qualifies(skills, stage[1]):
                best = queued
                break
        if best is None:
            return None
        call = best[2]
        stage = call.stages[self._listed[best[1]][1]]
        return call, stage[1], stage[2]

    def _climb(self, now: datetime) -> None:
        climbs = self._climbs
        listed = self._listed
        while climbs and climbs[0][0] <= now:
            _, _, call, rung = heapq.heappop(climbs)
            current = listed.get(call.call_id)
            if current is None or self._waiting.get(call.call_id) is not call:
                continue  # no longer waiting
            old, was = current
            if rung <= was:
                continue
            queued = (call.order(), call.call_id, call)
            index = bisect.bisect_left(old, queued)
            queued = old.pop(index)
            new = self._calls_for(call.stages[rung][1])
            bisect.insort(new, queued)
            listed[call.call_id] = (new, rung)

    def _calls_for(self, requirements: Mapping[str, int]) -> list[_Queued]:
        """The list of the call index for calls needing these requirements."""
        if not requirements:
            return self._calls_anyone
        if len(requirements) > 2:
            return self._calls_other
        for level in requirements.values():
            if type(level) is not int or not 1 <= level <= _TOP:
                return self._calls_other
        if len(requirements) == 1:
            [(skill, level)] = requirements.items()
            lists = self._calls_by_skill.get(skill)
            if lists is None:
                lists = self._calls_by_skill[skill] = [[] for _ in range(_SIDE)]
            return lists[level]
        (a, level_a), (b, level_b) = requirements.items()
        if b < a:
            a, level_a, b, level_b = b, level_b, a, level_a
        grid = self._calls_by_pair.get((a, b))
        if grid is None:
            grid = self._calls_by_pair[(a, b)] = [[] for _ in range(_SIDE * _SIDE)]
        return grid[level_a * _SIDE + level_b]

    def _list_call(self, queued: _Queued) -> None:
        """Into the call index, on the first rung, with the times it climbs the others."""
        call = queued[2]
        stages = call.stages or self._set_ladder(call)
        calls = self._calls_for(stages[0][1])
        bisect.insort(calls, queued)
        self._listed[call.call_id] = (calls, 0)
        zero = timedelta(0)
        for rung in range(1, len(stages)):
            # a rung is in force once the wait reached it and every rung below (0 first)
            try:
                when = call.wait_start + max(stages[rung][0], zero)
            except OverflowError:  # beyond the calendar: never
                break
            heapq.heappush(self._climbs, (when, next(self._climb_ties), call, rung))

    def _first_servable_by_wait(
        self, skills: Mapping[str, int], now: datetime
    ) -> tuple[WaitingCall, dict[str, int], str | None] | None:
        for _, _, call in self._order:
            requirements, rule = self.effective(call, now)
            if _qualifies(skills, requirements):
                return call, requirements, rule
        return None

    def agent_unavailable(self, agent_id: str) -> None:
        agent = self._agents.get(agent_id)
        if agent is None or agent.ready_since is None:
            return
        # its index entries are stale from now on
        agent.ready_since = None
        agent.token = 0
        self._ready.discard(agent_id)

    def is_ready(self, agent_id: str) -> bool:
        return agent_id in self._ready

    def _mark_ready(self, agent_id: str, since: datetime) -> None:
        agent = self._agents[agent_id]
        agent.ready_since = since
        token = agent.token = next(self._tokens)
        self._ready.add(agent_id)
        in_buckets = agent.in_buckets
        if not in_buckets:
            in_buckets = (*(self._bucket(key) for key in agent.buckets), self._anyone)
            agent.in_buckets = in_buckets
            for bucket in in_buckets:
                bucket.members += 1
        entry = (since, agent_id, token, agent)
        push = heapq.heappush
        slack = _BUCKET_SLACK
        # the hot path of a quiet hotline (an agent frees up after every call): inlined
        for bucket in in_buckets:
            heap = bucket.heap
            if len(heap) >= 2 * bucket.members + slack:
                self._compact(heap)
            push(heap, entry)

    def _bucket(self, key: _BucketKey) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
            # (a level check_skill passed is a whole number from 1 to 5, if not always an int)
            if len(key) == 2:
                levels = self._by_skill.setdefault(key[0], [None] * _SIDE)
                levels[int(key[1])] = bucket
            else:
                grid = self._by_pair.setdefault((key[0], key[2]), [None] * (_SIDE * _SIDE))
                grid[int(key[1]) * _SIDE + int(key[3])] = bucket
        return bucket

    @staticmethod
    def _compact(heap: list[_Entry]) -> None:
        heap[:] = [entry for entry in heap if entry[3].token == entry[2]]
        heapq.heapify(heap)

    @staticmethod
    def _head(heap: list[_Entry]) -> _Entry | None:
        """The longest idle ready agent of a bucket, stale entries above it dropped."""
        while heap:
            entry = heap[0]
            if entry[3].token == entry[2]:
                return entry
            heapq.heappop(heap)
        return None

    # ---- calls ----
    def enqueue(
        self,
        call_id: str,
        requirements: Mapping[str, int],
        priority: int,
        wait_start: datetime,
        now: datetime,
        *,
        requeued: bool = False,
        queue: str | None = None,
    ) -> Assignment | None:
        """A call needs an agent: take the best ready one now, or wait."""
        try:
            checked = self._checked.issuperset(requirements.items())
        except TypeError:  # an unhashable level: check_skill says what is wrong
            checked = False
        if not checked:
            for name, level in requirements.items():
                check_skill(name, level)
            if len(self._checked) >= _CHECKED_KEPT:
                self._checked.clear()
            self._checked.update(requirements.items())
        if call_id in self._waiting:
            raise InvalidInput(f"call {call_id} is already waiting")
        seq = next(self._seq)
        waited = now - wait_start
        first_rule = self._first_rule
        if first_rule is None:
            first_rule = self._first_rule = min((r.after for r in self.rules), default=NEVER)
        relaxed = waited >= first_rule
        if not relaxed:
            # the hot path of a quiet hotline: no overflow rule applies yet, so the call's own
            # requirements choose, and a call an agent takes at once is never built
            agent_id = self._best_agent(requirements)
            if agent_id is not None:
                self.agent_unavailable(agent_id)
                return Assignment(call_id, agent_id, dict(requirements), None, waited)
        call = WaitingCall(
            call_id=call_id,
            requirements=dict(requirements),
            priority=priority,
            wait_start=wait_start,
            queue=queue or queue_name(requirements),
            requeued=requeued,
            seq=seq,
        )
        assignment = self._match_call(call, now) if relaxed else None
        if assignment is None:
            self._waiting[call_id] = call
            queued = (call.order(), call_id, call)
            bisect.insort(self._order, queued)
            self._list_call(queued)
        return assignment

    def cancel(self, call_id: str) -> WaitingCall | None:
        """The caller hung up (or left for voicemail) while waiting."""
        call = self._waiting.get(call_id)
        if call is not None:
            self._remove_call(call_id)
        return call

    def rebalance(self, now: datetime) -> list[Assignment]:
        """Match waiting calls whose requirements relaxed with time; call periodically."""
        if not self._ready or not self._waiting:
            return []
        made = []
        for _, call_id, _ in list(self._order):
            if not self._ready:
                break
            call = self._waiting[call_id]
            assignment = self._match_call(call, now)
            if assignment is not None:
                self._remove_call(call_id)
                made.append(assignment)
        return made

    def effective(self, call: WaitingCall, now: datetime) -> tuple[dict[str, int], str | None]:
        """The call's requirements after the overflow rules its waiting time has reached.
        The result is shared with the call: do not modify it."""
        waited = now - call.wait_start
        if not call.stages:
            if self._first_rule is None:
                self._first_rule = min((r.after for r in self.rules), default=NEVER)
            if waited < self._first_rule:
                return call.requirements, None
        stages = call.stages or self._set_ladder(call)
        requirements, applied = call.requirements, None
        for after, relaxed, rule in stages:
            if waited < after:
                break
            requirements, applied = relaxed, rule
        return requirements, applied

    def _set_ladder(
        self, call: WaitingCall
    ) -> tuple[tuple[timedelta, dict[str, int], str | None], ...]:
        stages: list[tuple[timedelta, dict[str, int], str | None]] = [
            (timedelta(0), call.requirements, None)
        ]
        current: dict[str, int] = call.requirements
        rules = self._sorted_rules
        if rules is None:
            rules = self._sorted_rules = tuple(sorted(self.rules, key=lambda r: r.after))
        for rule in rules:
            current = rule.apply(current)
            stages.append((rule.after, current, rule.name))
        call.stages = tuple(stages)
        return call.stages

    def waiting_count(self) -> int:
        return len(self._waiting)

    def waiting(self) -> list[WaitingCall]:
        return [call for _, _, call in self._order]

    def position(self, call_id: str) -> int | None:
        """1-based place among the calls waiting in the same skill group."""
        call = self._waiting.get(call_id)
        if call is None:
            return None
        ahead = 0
        for _, other_id, other in self._order:
            if other_id == call_id:
                return ahead + 1
            if other.queue == call.queue:
                ahead += 1
        return None

    def _match_call(self, call: WaitingCall, now: datetime) -> Assignment | None:
        requirements, rule = self.effective(call, now)
        agent_id = self._best_agent(requirements)
        if agent_id is None:
            return None
        self.agent_unavailable(agent_id)
        waited = now - call.wait_start
        return Assignment(call.call_id, agent_id, dict(requirements), rule, waited)

    def _best_agent(self, requirements: Mapping[str, int]) -> str | None:
        """The ready agent with the best total level in the required skills, then the longest
        idle, then the smallest id."""
        if not self._ready:
            return None
        if len(requirements) <= 2:
            return self._best_indexed(requirements)
        return self._best_scanned(requirements)

    def _best_indexed(self, requirements: Mapping[str, int]) -> str | None:
        head = self._head
        if not requirements:
            entry = head(self._anyone.heap)
            return entry[1] if entry else None
        if len(requirements) == 1:
            [(skill, need)] = requirements.items()
            levels = self._by_skill.get(skill)
            if levels is None:
                return None
            for level in range(_TOP, (need if need > 1 else 1) - 1, -1):
                bucket = levels[level]
                if bucket is not None and bucket.heap:
                    entry = head(bucket.heap)
                    if entry is not None:
                        return entry[1]
            return None
        (a, need_a), (b, need_b) = requirements.items()
        if b < a:
            a, need_a, b, need_b = b, need_b, a, need_a
        grid = self._by_pair.get((a, b))
        if grid is None:
            return None
        if need_a < 1:
            need_a = 1
        if need_b < 1:
            need_b = 1
        # by total level, best first; within a total, the longest idle of the buckets' heads
        for total in range(2 * _TOP, need_a + need_b - 1, -1):
            best: _Entry | None = None
            for level_a in range(max(need_a, total - _TOP), min(_TOP, total - need_b) + 1):
                bucket = grid[level_a * _SIDE + total - level_a]
                if bucket is not None and bucket.heap:
                    entry = head(bucket.heap)
                    if entry is not None and (best is None or entry < best):
                        best = entry
            if best is not None:
                return best[1]
        return None

    def _best_scanned(self, requirements: Mapping[str, int]) -> str | None:
        """Three or more required skills: the ready agents of the required skill with the
        fewest entries at the levels asked for, each checked against the rest."""
        smallest: tuple[int, list[list[_Entry]]] | None = None
        for skill, need in requirements.items():
            levels = self._by_skill.get(skill)
            if levels is None:
                return None
            heaps = [bucket.heap for bucket in levels[max(need, 1) :] if bucket is not None]
            size = sum(map(len, heaps))
            if smallest is None or size < smallest[0]:
                smallest = (size, heaps)
        assert smallest is not None
        best: tuple[int, datetime, str] | None = None
        for heap in smallest[1]:
            for since, agent_id, token, agent in heap:
                if agent.token != token or not _qualifies(agent.skills, requirements):
                    continue
                # best skill level first, then the longest idle
                key = (-sum(agent.skills[s] for s in requirements), since, agent_id)
                if best is None or key < best:
                    best = key
        return best[2] if best else None

    def _remove_call(self, call_id: str) -> None:
        call = self._waiting.pop(call_id)
        # the call itself breaks no tie: the order key is unique (its seq)
        queued = (call.order(), call_id, call)
        index = bisect.bisect_left(self._order, queued)
        del self._order[index]
        calls, _ = self._listed.pop(call_id)
        del calls[bisect.bisect_left(calls, queued)]


def _qualifies(skills: Mapping[str, int], requirements: Mapping[str, int]) -> bool:
    return all(skills.get(skill, 0) >= level for skill, level in requirements.items())
