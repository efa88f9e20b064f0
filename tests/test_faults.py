"""The promise under faults: duplicates, concurrent deliveries, a flaky LLM and platform, late-answered sends, workers
killed mid-turn and right as a turn starts."""

from __future__ import annotations

from tests.scenario import Plan, Scenario


def test_every_message_ends_in_exactly_one_outcome_under_faults(tmp_path):
    report = Scenario(Plan(young_kills=1, late_sends=0.05), tmp_path).run()
    print("\n".join(report.lines()))
    assert report.without_outcome == 0
    assert report.extra_outcomes == 0
    assert report.duplicate_parts == 0
    assert report.out_of_order == 0
    assert report.answered_but_not_delivered == 0
    assert sum(report.outcomes.values()) == report.messages == 48
    assert report.outcomes["replied"] + report.outcomes["merged"] > 0
