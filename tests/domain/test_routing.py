"""Skill-based routing decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain.admission import Admission, Refusal
from callcenter.domain.errors import InvalidInput
from callcenter.domain.routing import OverflowRule, Router

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def router(**agents: dict[str, int]) -> Router:
    r = Router()
    for agent_id, skills in agents.items():
        r.set_skills(agent_id, skills)
    return r


def test_call_goes_to_best_level_then_longest_idle() -> None:
    r = router(
        a={"lang:mandarin": 3, "topic:housing": 2},
        b={"lang:mandarin": 3, "topic:housing": 5},
        c={"lang:mandarin": 3, "topic:housing": 5},
        d={"lang:mandarin": 5},
    )
    for agent, idle in (("a", 0), ("b", 5), ("c", 2), ("d", 0)):
        assert r.agent_ready(agent, at(idle), at(10)) is None
    got = r.enqueue("call1", {"lang:mandarin": 1, "topic:housing": 3}, 0, at(10), at(10))
    assert got is not None and got.agent_id == "c"  # b and c tie on level, c idle longer
    assert not r.is_ready("c")
    got = r.enqueue("call2", {"lang:mandarin": 1, "topic:housing": 3}, 0, at(11), at(11))
    assert got is not None and got.agent_id == "b"
    assert r.enqueue("call3", {"lang:mandarin": 1, "topic:housing": 3}, 0, at(12), at(12)) is None


def test_agent_takes_highest_priority_then_longest_waiting_call_it_can_serve() -> None:
    r = router(a={"lang:mandarin": 3}, e={"lang:english": 3})
    r.enqueue("old", {"lang:mandarin": 1}, 0, at(0), at(0))
    r.enqueue("english", {"lang:english": 1}, 5, at(1), at(1))
    r.enqueue("elderly", {"lang:mandarin": 1}, 1, at(5), at(5))
    got = r.agent_ready("a", at(6), at(6))
    assert got is not None and got.call_id == "elderly" and got.waited == timedelta(seconds=1)
    got = r.agent_ready("a", at(7), at(7))
    assert got is not None and got.call_id == "old"
    assert r.agent_ready("a", at(8), at(8)) is None and r.is_ready("a")


def test_requeued_call_keeps_its_wait_and_goes_to_the_head() -> None:
    r = router(a={"lang:mandarin": 1})
    r.enqueue("later", {"lang:mandarin": 1}, 0, at(3), at(3))
    r.enqueue("missed", {"lang:mandarin": 1}, 0, at(5), at(20), requeued=True)
    got = r.agent_ready("a", at(21), at(21))
    assert got is not None and got.call_id == "missed" and got.waited == timedelta(seconds=16)


def test_overflow_relaxes_level_then_drops_topic_but_never_language() -> None:
    rules = (
        OverflowRule("level", timedelta(seconds=20), min_level=1),
        OverflowRule("topic", timedelta(seconds=60), min_level=1, drop=("topic:",)),
    )
    r = Router(rules=rules)
    r.set_skills("junior", {"lang:mandarin": 1, "topic:housing": 1})
    r.set_skills("generalist", {"lang:mandarin": 4})
    r.set_skills("english", {"lang:english": 5, "topic:housing": 5})
    for agent in ("junior", "generalist", "english"):
        r.agent_ready(agent, at(0), at(0))
    r.enqueue("c", {"lang:mandarin": 3, "topic:housing": 3}, 0, at(0), at(0))
    assert r.rebalance(at(19)) == []
    [got] = r.rebalance(at(20))
    assert (got.agent_id, got.overflow_rule) == ("junior", "level")
    r.enqueue("d", {"lang:mandarin": 3, "topic:transport": 3}, 0, at(0), at(30))
    assert r.rebalance(at(59)) == []
    [got] = r.rebalance(at(60))
    assert (got.agent_id, got.overflow_rule) == ("generalist", "topic")
    assert got.requirements == {"lang:mandarin": 1}


def test_cancel_and_position() -> None:
    r = router()
    for i in range(3):
        r.enqueue(f"c{i}", {"lang:mandarin": 1}, 0, at(i), at(i))
    r.enqueue("x", {"lang:english": 1}, 0, at(0.5), at(0.5))
    assert r.position("c2") == 3 and r.position("x") == 1
    assert r.cancel("c0") is not None and r.cancel("c0") is None
    assert r.position("c2") == 2


def test_no_call_waits_while_a_matching_agent_is_ready() -> None:
    """Whatever the order of arrivals and departures, never a ready match and a waiting call."""
    r = router(a={"lang:mandarin": 2}, b={"lang:english": 2, "lang:mandarin": 1})
    events = [
        ("call", "c1", {"lang:english": 1}),
        ("ready", "a", None),
        ("call", "c2", {"lang:mandarin": 2}),
        ("call", "c3", {"lang:mandarin": 1}),
        ("ready", "b", None),
        ("ready", "a", None),
    ]
    for i, (kind, ident, reqs) in enumerate(events):
        if kind == "call":
            assert reqs is not None
            r.enqueue(ident, reqs, 0, at(i), at(i))
        else:
            r.agent_ready(ident, at(i), at(i))
        for call in r.waiting():
            needs, _ = r.effective(call, at(i))
            assert not any(
                all(r.skills(agent).get(s, 0) >= lvl for s, lvl in needs.items())
                for agent in ("a", "b")
                if r.is_ready(agent)
            )


@pytest.mark.parametrize(("skill", "level"), [("mandarin", 1), ("lang:x", 0), ("lang:x", 6)])
def test_bad_skills_are_refused(skill: str, level: int) -> None:
    with pytest.raises(InvalidInput):
        Router().set_skills("a", {skill: level})


def test_admission_ceiling_and_rate() -> None:
    gate = Admission(max_calls=3, max_new_per_second=2, burst=2)
    assert gate.decide(0.0, 0) is None
    assert gate.decide(0.0, 1) is None
    assert gate.decide(0.0, 2) is Refusal.RATE
    assert gate.decide(0.5, 2) is None  # one token refilled
    assert gate.decide(10.0, 3) is Refusal.SYSTEM_FULL


def _reference_best(
    skills: dict[str, dict[str, int]], ready: dict[str, datetime], needs: dict[str, int]
) -> str | None:
    """The rule written as a scan: best total level in the required skills, then longest
    idle, then the smallest id."""
    best: tuple[int, datetime, str] | None = None
    for agent_id, since in ready.items():
        mine = skills[agent_id]
        if all(skill in mine and mine[skill] >= level for skill, level in needs.items()):
            key = (-sum(mine[s] for s in needs), since, agent_id)
            best = key if best is None or key < best else best
    return best[2] if best else None


@pytest.mark.parametrize("slack", [16, 0])
@pytest.mark.parametrize("seed", range(6))
def test_indexed_choice_matches_a_full_scan(
    seed: int, slack: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's index (heaps per skill level and pair of skill levels) picks exactly the
    agent a full scan would, for zero to three required skills, through readiness churn,
    skill changes and removals."""
    import random

    from callcenter.domain import routing

    monkeypatch.setattr(routing, "_BUCKET_SLACK", slack)  # 0: buckets are compacted often
    rng = random.Random(seed)
    names = ["lang:mandarin", "lang:english", "topic:a", "topic:b", "topic:c", "topic:d"]
    skills: dict[str, dict[str, int]] = {}
    ready: dict[str, datetime] = {}
    r = Router(rules=())
    for i in range(40):
        agent_id = f"a{i:02d}"
        skills[agent_id] = {s: rng.randint(1, 5) for s in rng.sample(names, rng.randint(1, 4))}
        r.set_skills(agent_id, skills[agent_id])
    now = T0
    for n in range(3_000):
        now += timedelta(seconds=rng.choice([0, 0, 1]))  # ties on ready time happen
        op = rng.random()
        agent_id = rng.choice(sorted(skills))
        if op < 0.35:
            if agent_id not in ready:
                assert r.agent_ready(agent_id, now, now) is None
                ready[agent_id] = now
        elif op < 0.45:
            r.agent_unavailable(agent_id)
            ready.pop(agent_id, None)
        elif op < 0.48:
            skills[agent_id] = {s: rng.randint(1, 5) for s in rng.sample(names, 2)}
            r.set_skills(agent_id, skills[agent_id])
        elif op < 0.49:
            r.remove_agent(agent_id)
            del skills[agent_id]
            ready.pop(agent_id, None)
            if not skills:
                break
        else:
            needs = {s: rng.randint(1, 5) for s in rng.sample(names, rng.randint(0, 3))}
            expected = _reference_best(skills, ready, needs)
            got = r.enqueue(f"c{n}", needs, 0, now, now)
            assert (got.agent_id if got else None) == expected, (n, needs)
            if got is not None:
                del ready[got.agent_id]
            else:
                r.cancel(f"c{n}")
        assert all(r.is_ready(a) for a in ready)
