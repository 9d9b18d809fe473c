"""`kind: population`: the Melting Pot protocol on the commons with scripted populations."""

from __future__ import annotations

import pytest

from testbed import load_scenario
from testbed.errors import BadInput
from testbed.population.stage import run_population
from testbed.rollout.executor import LocalExecutor, ProcessExecutor

COMMONS = """
    name: commons-pop
    seed: 4
    kind: population
    env: testbed/commons_harvest_v0
    focal:
      tit_for_tat: scripted/commons_tit_for_tat
      random: random
    background:
      sustainable: scripted/commons_sustainable
      greedy: scripted/commons_greedy
    references:
      random: {random: random}
      sustainable: {sustainable: scripted/commons_sustainable}
      greedy: {greedy: scripted/commons_greedy}
    normalise: {zero: random, one: [sustainable, greedy]}
    scenarios:
      resident_sustainable: {mode: resident, background: [sustainable]}
      visitor_sustainable: {mode: visitor, background: [sustainable]}
      visitor_mixed: {mode: visitor, focal_seats: 2}
    episodes: 4
"""


def _row(result, scenario: str, population: str) -> dict:
    return next(
        r for r in result.rows if r["scenario"] == scenario and r["population"] == population
    )


def test_commons_population_matches_the_envs_known_figures(write_yaml) -> None:
    scenario = load_scenario(write_yaml(COMMONS))
    result = run_population(scenario, 0, LocalExecutor())
    # the env's documented line-ups: all sustainable 200 each; one greedy among four
    # sustainable: the greedy one 339.3, each sustainable one 113.1
    resident = _row(result, "resident_sustainable", "sustainable")
    assert resident["focal"]["mean"] == pytest.approx(200.0, abs=0.01)
    greedy_visitor = _row(result, "visitor_sustainable", "greedy")
    assert greedy_visitor["focal"]["mean"] == pytest.approx(339.3, abs=0.1)
    assert greedy_visitor["background"]["mean"] == pytest.approx(113.1, abs=0.1)
    # per scenario the best reference is 1 (greedy exploits sustainable bots), random 0
    assert greedy_visitor["score"]["value"] == pytest.approx(1.0)
    assert greedy_visitor["score"]["one"] == "greedy"
    assert _row(result, "visitor_sustainable", "random")["score"]["value"] == 0.0
    assert result.scenarios["resident_sustainable"]["focal_seats"] == 4
    assert result.scenarios["visitor_mixed"]["focal_seats"] == 2
    # every population meets the same seeds, seats and bots
    by_key: dict = {}
    for entry in result.episodes_log:
        by_key.setdefault((entry["scenario"], entry["episode"]), set()).add(
            (entry["seed"], tuple(sorted(entry["bots"].items())))
        )
    assert all(len(layouts) == 1 for layouts in by_key.values())
    mixed = {tuple(sorted(set(e["bots"].values()))) for e in result.episodes_log}
    assert ("greedy", "sustainable") in mixed  # both bots drawn when the list is left out


def test_population_results_do_not_depend_on_workers(write_yaml) -> None:
    scenario = load_scenario(write_yaml(COMMONS), ["episodes=2"])
    one = run_population(scenario, 0, LocalExecutor())
    pool = ProcessExecutor(2)
    try:
        two = run_population(scenario, 0, pool)
    finally:
        pool.close()
    assert one.rows == two.rows and one.episodes_log == two.episodes_log


@pytest.mark.parametrize(
    "override, message",
    [
        ("scenarios.visitor_mixed.background=[lazy]", "background bot 'lazy' is not in"),
        ("scenarios.visitor_mixed.mode=resident", "resident mode takes `background_seats`"),
        ("normalise.one=nobody", "'nobody' is not one of `references`"),
        ("focal_agents=[player_*]", "no env agent matches focal_agents"),
        ("scenarios.visitor_mixed.focal_seats=9", "needs 1 to 5"),
    ],
)
def test_bad_population_input_names_the_field(write_yaml, override, message) -> None:
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("*", r"\*")):
        scenario = load_scenario(write_yaml(COMMONS), [override])
        run_population(scenario, 0, LocalExecutor())
