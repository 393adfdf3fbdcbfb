"""Properties of the planner over random DAGs (hypothesis): every unit runs at most once per
attempt, never before its needs have ended, and every execution ends."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from planner_sim import T0, Simulator, definition, step

from baton.engine.definition import BodyDef, StepDef
from baton.engine.planner import Decision, PlanIndex, plan
from baton.engine.records import (
    DONE_OK,
    FAILED,
    KIND_ITEM,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TERMINAL_EXECUTION,
    WAITING,
    StepRecord,
)

UNDO = BodyDef("shell", {"command": "undo"})


@st.composite
def workflows(draw: st.DrawFn) -> tuple[list[StepDef], set[str], set[str], int]:
    """Random acyclic step lists (needs point to earlier steps), plus which attempts fail."""
    count = draw(st.integers(min_value=1, max_value=10))
    steps = []
    for index in range(count):
        earlier = [f"s{i}" for i in range(index)]
        needs = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        steps.append(
            step(
                f"s{index}",
                needs,
                continue_on_error=draw(st.booleans()),
                for_each="inputs.xs" if draw(st.integers(0, 4)) == 0 else None,
                max_concurrency=draw(st.none() | st.integers(1, 3)),
                compensate=UNDO if draw(st.booleans()) else None,
            )
        )
    steps += [step("alert", list_name="on_failure"), step("close", list_name="finally")]
    keys = [s.id for s in steps] + [f"s{i}[{j}]" for i in range(count) for j in range(5)]
    failing = set(draw(st.lists(st.sampled_from(keys), unique=True, max_size=4)))
    skipped = set(draw(st.lists(st.sampled_from([s.id for s in steps]), unique=True, max_size=2)))
    retries = draw(st.integers(1, 3))
    return steps, failing, skipped, retries


@settings(max_examples=150, deadline=None)
@given(workflows(), st.integers(0, 3))
def test_random_executions_respect_order_and_end(
    drawn: tuple[list[StepDef], set[str], set[str], int], items: int
) -> None:
    steps, failing, skipped, retries = drawn
    sim = Simulator(
        definition(*steps),
        # A failing unit fails every attempt, except that some recover on a retry.
        outcome=lambda key, attempt: key not in failing or (attempt >= 2 and len(key) % 2 == 0),
        items=lambda _: items,
        skipped_by_when=frozenset(skipped),
        retries=retries,
    )
    starts: list[tuple[str, str]] = []
    original_start = sim._start

    def checked_start(key: str) -> None:
        record = sim.records.get(key)
        if record is not None and record.kind == "step" and not key.endswith("~compensate"):
            for need in sim.definition.step(record.step_id).needs:
                need_record = sim.records[need]
                assert need_record.status in DONE_OK or (
                    need_record.status == FAILED and sim.definition.step(need).continue_on_error
                ), f"{key} started while {need} was {need_record.status}"
        starts.append((key, str(record.attempt + 1 if record else 1)))
        original_start(key)

    sim._start = checked_start  # type: ignore[method-assign]
    outcome = sim.play()
    assert outcome in TERMINAL_EXECUTION
    assert len(starts) == len(set(starts)), "a unit was started twice for one attempt"
    assert all(r.status in DONE_OK | {FAILED, "cancelled"} for r in sim.records.values())


class IndexedSimulator(Simulator):
    """Plans from an index kept up to date record by record, and checks every decision
    against the full pass (and against an index built from scratch)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.index = PlanIndex(self.definition)
        self.seen: dict[str, StepRecord] = {}
        self.decisions = 0

    def decide(self, **options: object) -> Decision:
        for key, record in self.records.items():
            if self.seen.get(key) is not record:
                self.index.update(self.seen.get(key), record)
                self.seen[key] = record
        fresh = PlanIndex(self.definition)
        for record in self.records.values():
            fresh.update(None, record)
        full = plan(self.definition, self.records, now=self.now, **options)  # type: ignore[arg-type]
        for index in (self.index, fresh):
            indexed = plan(self.definition, self.records, now=self.now, index=index, **options)  # type: ignore[arg-type]
            assert indexed == full, (indexed, full, self.records)
        self.decisions += 1
        return full


@settings(max_examples=150, deadline=None)
@given(workflows(), st.integers(0, 5), st.booleans(), st.none() | st.integers(1, 3))
def test_the_indexed_pass_decides_exactly_as_the_full_pass(
    drawn: tuple[list[StepDef], set[str], set[str], int], items: int, cancel: bool, item_room: int | None
) -> None:
    steps, failing, skipped, retries = drawn
    sim = IndexedSimulator(
        definition(*steps),
        outcome=lambda key, attempt: key not in failing or (attempt >= 2 and len(key) % 2 == 0),
        items=lambda _: items,
        skipped_by_when=frozenset(skipped),
        retries=retries,
    )
    assert sim.play(cancel_requested=cancel, item_room=item_room) in TERMINAL_EXECUTION
    assert sim.decisions > 0


ITEM_STATES = st.sampled_from(["pending", "backing-off", "due", "running", "orphaned", "waiting", "waking",
                               "asleep", "succeeded", "failed", "skipped", "stopped"])  # fmt: skip


def _item(index: int, state: str) -> StepRecord:
    later, earlier = T0 + timedelta(seconds=index + 1), T0 - timedelta(seconds=index + 1)
    key = f"fan[{index}]"
    record = StepRecord("e", key, "fan", KIND_ITEM, index=index)
    changes: dict[str, object] = {
        "backing-off": {"wake_at": later, "tries": 1},
        "due": {"wake_at": earlier, "tries": 1},
        "running": {"status": RUNNING, "lease_owner": "w"},
        "orphaned": {"status": RUNNING, "lease_owner": "gone"},
        "waiting": {"status": WAITING},
        "waking": {"status": WAITING, "wake_at": earlier},
        "asleep": {"status": WAITING, "wake_at": later},
        "succeeded": {"status": SUCCEEDED},
        "failed": {"status": FAILED},
        "skipped": {"status": SKIPPED},
        "stopped": {"status": SUCCEEDED, "stop": True},
    }.get(state, {})
    return record.evolve(**changes)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(ITEM_STATES, min_size=1, max_size=8),
    st.lists(ITEM_STATES, max_size=3),
    st.tuples(st.none() | st.integers(1, 4), st.booleans(), st.sampled_from(["steps", "on_failure", "finally"])),
    st.none() | st.integers(0, 4),
    st.booleans(),
)
def test_the_item_index_decides_as_the_pass_over_every_item(
    states: list[str],
    leftover: list[str],
    shape: tuple[int | None, bool, str],
    item_room: int | None,
    cancel: bool,
) -> None:
    """Items in every state (running, orphaned, waiting, backing off, ended), records left
    from a longer earlier expansion, and a bounded room, in any of the three lists (a
    handler list runs once the main list ``first`` has ended): the same decision either way."""
    max_concurrency, continue_on_error, list_name = shape
    fan = step(
        "fan",
        for_each="inputs.xs",
        max_concurrency=max_concurrency,
        continue_on_error=continue_on_error,
        list_name=list_name,
    )
    after = step("after", ["fan"], list_name=list_name)
    main = [] if list_name == "steps" else [step("first")]
    spec = definition(*main, fan, after, step("close", list_name="finally"))
    parent = StepRecord("e", "fan", "fan", status=RUNNING, item_count=len(states))
    records = {"fan": parent, "after": StepRecord("e", "after", "after"), "close": StepRecord("e", "close", "close")}
    if main:
        first = StepRecord("e", "first", "first", status=FAILED if list_name == "on_failure" else SUCCEEDED)
        records["first"] = first
    items = [_item(i, state) for i, state in enumerate([*states, *leftover])]
    index = PlanIndex(spec)
    # Items first and the parent last (a resize recounts what was seen before it).
    for record in [*items, *records.values()]:
        index.update(None, record)
        records[record.key] = record
    orphaned = frozenset(r.key for r in items if r.lease_owner == "gone")
    options = {"now": T0, "orphaned": orphaned, "item_room": item_room, "cancel_requested": cancel}
    full = plan(spec, records, **options)  # type: ignore[arg-type]
    assert plan(spec, records, index=index, **options) == full  # type: ignore[arg-type]
    # Each item moved on (as the driver would) keeps the index and the full pass in step.
    for record in items[: len(states)]:
        if record.status == PENDING:
            moved = record.evolve(status=SUCCEEDED)
            index.update(record, moved)
            records[record.key] = moved
            full = plan(spec, records, **options)  # type: ignore[arg-type]
            assert plan(spec, records, index=index, **options) == full  # type: ignore[arg-type]
