"""The router's index of ready agents: its invariants through churn, and the choices it makes
when agents leave, change skills or tie."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.domain import routing
from callcenter.domain.errors import InvalidInput
from callcenter.domain.routing import DEFAULT_OVERFLOW, OverflowRule, Router
from tests.domain.test_routing import _reference_best

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NAMES = ["lang:mandarin", "lang:english", "topic:a", "topic:b", "topic:c"]


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def check_index(r: Router) -> None:
    """What the index must hold at any time between calls to the router."""
    members: dict[int, int] = {}
    for agent_id, agent in r._agents.items():
        # a ready agent has a current entry in every bucket of its skills, and only there
        if agent.ready_since is None:
            assert agent.token == 0 and not r.is_ready(agent_id)
        else:
            assert agent.token != 0 and r.is_ready(agent_id)
            assert agent.in_buckets[-1] is r._anyone
            held = {id(b) for b in agent.in_buckets}
            keys = [k for k, b in r._buckets.items() if id(b) in held]
            assert sorted(keys) == sorted(agent.buckets)
            for bucket in agent.in_buckets:
                current = [e for e in bucket.heap if e[1] == agent_id and e[2] == agent.token]
                assert current == [(agent.ready_since, agent_id, agent.token, agent)]
        for bucket in agent.in_buckets:
            members[id(bucket)] = members.get(id(bucket), 0) + 1
    for bucket in (*r._buckets.values(), r._anyone):
        # members: the agents' current records that hold the bucket, ready or not
        assert bucket.members == members.get(id(bucket), 0)
        # every current entry is a ready agent's, and it is found through the skill tables
        for since, agent_id, token, agent in bucket.heap:
            if agent.token == token:
                assert r._agents[agent_id] is agent and agent.ready_since == since
    for key, bucket in r._buckets.items():
        if len(key) == 2:
            assert r._by_skill[key[0]][key[1]] is bucket
        else:
            assert r._by_pair[(key[0], key[2])][key[1] * 6 + key[3]] is bucket


def bounded(r: Router, agent_id: str, slack: int) -> bool:
    """Right after an agent's entries were pushed, none of its buckets holds more than twice
    its members plus the slack (a compaction keeps only the ready members' entries)."""
    return all(len(b.heap) <= 2 * b.members + slack for b in r._agents[agent_id].in_buckets)


def test_an_agent_leaving_is_never_chosen_and_their_entries_go_stale() -> None:
    r = Router(rules=())
    r.set_skills("a", {"lang:mandarin": 5, "topic:a": 5})
    r.set_skills("b", {"lang:mandarin": 1, "topic:a": 1})
    r.agent_ready("a", at(0), at(0))
    r.agent_ready("b", at(1), at(1))
    check_index(r)
    r.agent_unavailable("a")
    check_index(r)
    got = r.enqueue("c1", {"lang:mandarin": 1, "topic:a": 1}, 0, at(2), at(2))
    assert got is not None and got.agent_id == "b"
    r.agent_ready("a", at(3), at(3))
    r.remove_agent("a")
    check_index(r)
    assert not r.is_ready("a")
    assert r.enqueue("c2", {"lang:mandarin": 1}, 0, at(4), at(4)) is None
    assert all(b.members == 0 for b in r._buckets.values() if b.heap and b.heap[0][1] == "a")


def test_a_skill_change_moves_a_ready_agent_and_keeps_their_idle_time() -> None:
    r = Router(rules=())
    r.set_skills("a", {"lang:mandarin": 2})
    r.set_skills("b", {"lang:mandarin": 2})
    r.agent_ready("a", at(0), at(0))
    r.agent_ready("b", at(5), at(5))
    r.set_skills("a", {"lang:english": 3})
    check_index(r)
    assert r._buckets[("lang:mandarin", 2)].members == 1
    got = r.enqueue("m", {"lang:mandarin": 1}, 0, at(6), at(6))
    assert got is not None and got.agent_id == "b"
    r.set_skills("b", {"lang:english": 3})
    r.agent_ready("b", at(7), at(7))
    # a has been idle since 0 through the change, so a takes the next English call
    got = r.enqueue("e", {"lang:english": 3}, 0, at(8), at(8))
    assert got is not None and got.agent_id == "a"
    check_index(r)


def test_a_skill_nobody_had_yet_is_found_once_an_agent_has_it() -> None:
    r = Router(rules=())
    assert r.enqueue("c1", {"topic:new": 1}, 0, at(0), at(0)) is None
    assert r.enqueue("c2", {"topic:new": 1, "lang:mandarin": 1}, 0, at(0), at(0)) is None
    r.cancel("c1")
    r.cancel("c2")
    r.set_skills("a", {"lang:mandarin": 1, "topic:new": 2})
    r.agent_ready("a", at(1), at(1))
    got = r.enqueue("c3", {"topic:new": 1, "lang:mandarin": 1}, 0, at(2), at(2))
    assert got is not None and got.agent_id == "a"


def test_ties_within_a_total_level_go_to_the_longest_idle_then_the_smallest_id() -> None:
    r = Router(rules=())
    # same total (8) from different buckets of the pair
    r.set_skills("x", {"lang:mandarin": 5, "topic:a": 3})
    r.set_skills("w", {"lang:mandarin": 4, "topic:a": 4})
    r.set_skills("v", {"lang:mandarin": 3, "topic:a": 5})
    r.set_skills("low", {"lang:mandarin": 2, "topic:a": 2})
    r.agent_ready("low", at(0), at(0))
    r.agent_ready("x", at(3), at(3))
    r.agent_ready("w", at(2), at(2))
    r.agent_ready("v", at(2), at(2))
    needs = {"topic:a": 1, "lang:mandarin": 1}  # not in name order: the same pair
    taken = []
    for n in range(4):
        got = r.enqueue(f"c{n}", needs, 0, at(4), at(4))
        assert got is not None
        taken.append(got.agent_id)
    assert taken == ["v", "w", "x", "low"]


def test_three_skills_are_scanned_from_the_smallest_skill_among_stale_entries() -> None:
    r = Router(rules=())
    skills = {
        "a": {"lang:mandarin": 5, "topic:a": 2, "topic:b": 2},
        "b": {"lang:mandarin": 1, "topic:a": 5, "topic:b": 5},
        "c": {"lang:mandarin": 1, "topic:a": 5, "topic:b": 5},
        "d": {"lang:mandarin": 5, "topic:a": 5},
    }
    for agent_id, mine in skills.items():
        r.set_skills(agent_id, mine)
    for round_ in range(3):  # readiness churn: stale entries in every bucket
        for i, agent_id in enumerate(skills):
            r.agent_ready(agent_id, at(round_ * 10 + i), at(round_ * 10 + i))
            if round_ < 2:
                r.agent_unavailable(agent_id)
    needs = {"lang:mandarin": 1, "topic:a": 2, "topic:b": 2}
    got = r.enqueue("c1", needs, 0, at(30), at(30))
    assert got is not None and got.agent_id == "b"  # 11 like c, and idle longer
    got = r.enqueue("c2", needs, 0, at(30), at(30))
    assert got is not None and got.agent_id == "c"
    got = r.enqueue("c3", needs, 0, at(30), at(30))
    assert got is not None and got.agent_id == "a"
    assert r.enqueue("c4", needs, 0, at(30), at(30)) is None
    check_index(r)


def test_a_call_taken_at_once_still_takes_its_place_in_the_sequence() -> None:
    r = Router(rules=())
    r.set_skills("a", {"lang:mandarin": 1})
    r.agent_ready("a", at(0), at(0))
    assert r.enqueue("taken", {"lang:mandarin": 1}, 0, at(1), at(1)) is not None
    assert r.enqueue("waits", {"lang:mandarin": 1}, 0, at(1), at(1)) is None
    [call] = r.waiting()
    assert call.seq == 1 and call.queue == "lang:mandarin"


def test_a_call_past_the_first_rule_is_matched_on_its_relaxed_requirements() -> None:
    r = Router(rules=(OverflowRule("level", timedelta(seconds=20), min_level=1),))
    r.set_skills("a", {"lang:mandarin": 1})
    r.agent_ready("a", at(0), at(0))
    assert r.enqueue("fresh", {"lang:mandarin": 3}, 0, at(0), at(19)) is None
    r.cancel("fresh")
    got = r.enqueue("missed", {"lang:mandarin": 3}, 0, at(0), at(20), requeued=True)
    assert got is not None and (got.agent_id, got.overflow_rule) == ("a", "level")
    assert got.requirements == {"lang:mandarin": 1} and got.waited == timedelta(seconds=20)


@pytest.mark.parametrize("slack", [16, 0])
def test_the_index_holds_through_a_quiet_hotlines_churn(
    slack: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every agent ready, calls arriving and each call's agent ready again at once, with
    pauses, skill changes, removals and returns; the index stays whole and bounded, and
    every choice is the one a full scan makes on the requirements in force."""
    monkeypatch.setattr(routing, "_BUCKET_SLACK", slack)
    rng = random.Random(11)
    r = Router(rules=DEFAULT_OVERFLOW)
    skills: dict[str, dict[str, int]] = {}
    ready: dict[str, datetime] = {}

    def draw() -> dict[str, int]:
        return {s: rng.randint(1, 5) for s in rng.sample(NAMES, rng.randint(1, 4))}

    for i in range(60):
        skills[f"a{i:02d}"] = draw()
        r.set_skills(f"a{i:02d}", skills[f"a{i:02d}"])
        r.agent_ready(f"a{i:02d}", T0, T0)
        ready[f"a{i:02d}"] = T0
    now = T0
    for n in range(2_000):
        now += timedelta(seconds=rng.choice([0, 1]))
        op = rng.random()
        agent_id = rng.choice(sorted(skills))
        if op < 0.05:
            r.agent_unavailable(agent_id)
            ready.pop(agent_id, None)
        elif op < 0.08:
            skills[agent_id] = draw()
            r.set_skills(agent_id, skills[agent_id])
            assert agent_id not in ready or bounded(r, agent_id, slack)
        elif op < 0.09:
            r.remove_agent(agent_id)
            del skills[agent_id]
            ready.pop(agent_id, None)
        elif op < 0.15:
            skills.setdefault(agent_id, draw())
            r.set_skills(agent_id, skills[agent_id])
            if agent_id not in ready:
                assert r.agent_ready(agent_id, now, now) is None
                ready[agent_id] = now
                assert bounded(r, agent_id, slack)
        else:
            needs = {s: rng.randint(1, 5) for s in rng.sample(NAMES, rng.randint(0, 3))}
            # a requeued call may have waited past the overflow rules already
            wait_start = now - timedelta(seconds=rng.choice([0, 0, 0, 25, 70]))
            call = routing.WaitingCall(f"c{n}", dict(needs), 0, wait_start)
            in_force, rule = r.effective(call, now)
            expected = _reference_best(skills, ready, in_force)
            got = r.enqueue(f"c{n}", needs, 0, wait_start, now, requeued=wait_start < now)
            assert (got.agent_id if got else None) == expected, (n, needs)
            if got is None:
                r.cancel(f"c{n}")
                continue
            assert got.overflow_rule == rule and got.requirements == in_force
            assert got.waited == now - wait_start
            del ready[got.agent_id]
            assert r.agent_ready(got.agent_id, now, now) is None
            ready[got.agent_id] = now
            assert bounded(r, got.agent_id, slack)
        if n % 50 == 0:
            check_index(r)
    check_index(r)
    assert {a for a in skills if r.is_ready(a)} == set(ready)


@pytest.mark.parametrize(
    "rules",
    [
        DEFAULT_OVERFLOW,
        (),
        # a rung no wait reaches (its cutoff is before the calendar starts)
        (OverflowRule("late", timedelta(days=999_999_999), min_level=1),),
        (OverflowRule("now", timedelta(0), min_level=1, drop=("topic:",)),),
    ],
)
@pytest.mark.parametrize("scan_below", [0, 10_000])
def test_a_free_agent_takes_the_first_call_in_order_it_serves_under_the_rules_in_force(
    rules: tuple[OverflowRule, ...], scan_below: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An overloaded hotline: calls of both priorities, requeued ones, waits on every rung of
    the overflow ladder; each free agent takes what a scan of the waiting calls in order,
    with each call's requirements in force, gives: through the call index (scan_below 0,
    except when asked about an earlier time than before) and by a scan (10,000)."""
    monkeypatch.setattr(routing, "_SCAN_BELOW", scan_below)
    rng = random.Random(5)
    r = Router(rules=rules)
    skills = {f"a{i:02d}": {s: rng.randint(1, 5) for s in rng.sample(NAMES, 3)} for i in range(30)}
    for agent_id, mine in skills.items():
        r.set_skills(agent_id, mine)
    now = at(100)
    for n in range(1_500):
        now += timedelta(seconds=rng.choice([0, 1, 2]))
        needs = {s: rng.randint(1, 5) for s in rng.sample(NAMES, rng.randint(0, 3))}
        back = timedelta(seconds=rng.choice([0, 5, 30, 90]))
        r.enqueue(
            f"c{n}", needs, rng.choice([0, 0, 1]), now - back, now, requeued=back > timedelta(0)
        )
        agent_id = rng.choice(sorted(skills))
        # now and then a clock that went back
        asked = now - timedelta(seconds=rng.choice([0] * 19 + [40]))
        expected = None
        for call in r.waiting():
            in_force, rule = r.effective(call, asked)
            if all(skills[agent_id].get(s, 0) >= lvl for s, lvl in in_force.items()):
                expected = (call.call_id, in_force, rule, asked - call.wait_start)
                break
        got = r.agent_ready(agent_id, asked, asked)
        if got is None:
            assert expected is None
            r.agent_unavailable(agent_id)
        else:
            assert (got.call_id, got.requirements, got.overflow_rule, got.waited) == expected
        if r.waiting_count() > 200:
            r.cancel(r.waiting()[rng.randrange(200)].call_id)
        if n % 100 == 0:
            check_calls(r)
    check_calls(r)


def check_calls(r: Router) -> None:
    """Every waiting call is in the call index once, in the list of its rung's requirements,
    and every list is in serving order."""
    lists = [r._calls_anyone, r._calls_other]
    lists += [calls for by_level in r._calls_by_skill.values() for calls in by_level]
    lists += [calls for grid in r._calls_by_pair.values() for calls in grid]
    assert all(calls == sorted(calls, key=lambda q: q[0]) for calls in lists)
    indexed = sorted((q for calls in lists for q in calls), key=lambda q: q[0])
    assert indexed == r._order
    assert set(r._listed) == {q[1] for q in r._order}
    for _, call_id, call in r._order:
        calls, rung = r._listed[call_id]
        assert calls is r._calls_for(call.stages[rung][1])
        assert any(q[2] is call for q in calls)


@pytest.mark.parametrize(
    "needs",
    [{"mandarin": 1}, {"lang:x": 0}, {"lang:x": 6}, {"lang:mandarin": 1, "lang:x": 6}],
)
def test_a_calls_requirements_are_checked_every_time_until_they_pass(
    needs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "_CHECKED_KEPT", 2)  # forgotten as often as possible
    r = Router(rules=())
    r.set_skills("a", {"lang:mandarin": 1})
    for n in range(3):
        with pytest.raises(InvalidInput):
            r.enqueue(f"bad{n}", needs, 0, at(n), at(n))
        assert r.enqueue(f"ok{n}", {"lang:mandarin": 1, "topic:b": 2}, 0, at(n), at(n)) is None
    with pytest.raises(InvalidInput):
        r.enqueue("unhashable", {"lang:mandarin": [1]}, 0, at(9), at(9))  # type: ignore[dict-item]
    assert r.waiting_count() == 3


def test_an_agents_level_given_as_a_whole_float_still_counts() -> None:
    """check_skill lets 2.0 through as a level (it is in 1..5): the index takes it as 2."""
    r = Router(rules=())
    r.set_skills("a", {"lang:mandarin": 2.0, "topic:a": 3.0})  # type: ignore[dict-item]
    r.agent_ready("a", at(0), at(0))
    got = r.enqueue("c1", {"lang:mandarin": 2, "topic:a": 3}, 0, at(1), at(1))
    assert got is not None and got.agent_id == "a"
    for n in range(40):  # enough waiting calls for the call index
        r.enqueue(f"w{n}", {"lang:english": 1}, 0, at(2), at(2))
    r.enqueue("c2", {"topic:a": 2}, 0, at(3), at(3))
    got = r.agent_ready("a", at(4), at(4))
    assert got is not None and got.call_id == "c2"
