"""Sweeps (`seeds:` on a train stage): each seed's run is the stage run alone with that seed,
seeds train in worker processes, finished seeds are kept by --resume, aggregates come from
rliable, and bad `seeds` are bad input."""

from __future__ import annotations

import json

import pytest

from testbed import load_scenario, run
from testbed.errors import BadInput
from testbed.report.aggregate import aggregate_scores, probability_of_improvement

SWEEP = """
name: sweep
seed: 5
kind: train
env: gym/CartPole-v1
agents: {{"*": reinforce}}
steps: 400
eval_every: 200
eval_episodes: 2
{extra}
"""

TIMING = {"wall_time_s", "seconds", "folder", "checkpoints"}


def curve(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_each_seed_of_a_sweep_is_the_run_with_that_seed(write_yaml, tmp_path):
    sweep = run(
        load_scenario(write_yaml(SWEEP.format(extra="seeds: [5, 9]\ntarget_return: 500"))),
        tmp_path / "sweep",
        show=False,
        workers=2,
    ).stages[0]
    assert sweep.sweep["seeds"] == [5, 9]
    for seed in (5, 9):
        alone = run(
            load_scenario(write_yaml(SWEEP.format(extra=""), "alone.yaml"), [f"seed={seed}"]),
            tmp_path / f"alone-{seed}",
            show=False,
        ).stages[0]
        folder = tmp_path / "sweep" / "sweep" / f"seed-{seed}"
        kept = json.loads((folder / "result.json").read_text())
        assert curve(kept["curve"]) == curve(alone.curve)
        assert (folder / "checkpoints" / "final").is_dir()
    returns = [r["eval_return"] for r in sweep.sweep["runs"]]
    assert sweep.sweep["return"]["mean"]["value"] == pytest.approx(sum(returns) / 2)
    assert sweep.sweep["return"]["optimality_gap"]["value"] == pytest.approx(500 - sum(returns) / 2)
    assert (tmp_path / "sweep" / "sweep" / "sweep.png").stat().st_size > 0
    summary = (tmp_path / "sweep" / "summary.md").read_text()
    assert "| 9 | 400 |" in summary and "IQM" in summary


def test_resume_keeps_finished_seeds(write_yaml, tmp_path):
    path = write_yaml(SWEEP.format(extra="seeds: 2"))
    first = run(load_scenario(path), tmp_path / "a", show=False, workers=1).stages[0]
    kept = tmp_path / "a" / "sweep" / "seed-5" / "result.json"
    marker = json.loads(kept.read_text())
    marker["wall_time_s"] = 12345.0  # a finished seed is read back, not trained again
    kept.write_text(json.dumps(marker))
    (tmp_path / "a" / "sweep" / "seed-6" / "result.json").unlink()  # seed 6 unfinished
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    result["status"], result["stages"] = "interrupted", []
    (tmp_path / "a" / "result.json").write_text(json.dumps(result))
    again = run(load_scenario(path), tmp_path / "a", show=False, resume=True).stages[0]
    runs = {r["seed"]: r for r in again.sweep["runs"]}
    assert runs[5]["wall_time_s"] == 12345.0
    assert runs[6]["steps"] == 400  # continued from its step-200 checkpoint, then finished
    assert (tmp_path / "a" / "sweep" / "seed-6" / "result.json").is_file()
    assert first.sweep["runs"][1]["seed"] == 6


@pytest.mark.parametrize(
    ("seeds", "message"),
    [("[3, 3]", "distinct seeds"), ("[]", "distinct seeds"), ("0", "greater than 0"),
     ("two", "valid integer")],
)  # fmt: skip
def test_bad_seeds_are_bad_input(write_yaml, seeds, message):
    with pytest.raises(BadInput, match=message) as caught:
        load_scenario(write_yaml(SWEEP.format(extra=f"seeds: {seeds}")))
    assert "scenario.yaml:" in str(caught.value)


def test_aggregates_are_rliables_and_reproducible():
    scores = [10.0, 20.0, 30.0, 40.0, 1000.0]
    first = aggregate_scores(scores, seed=3)
    assert first == aggregate_scores(scores, seed=3)
    assert first["iqm"]["value"] == pytest.approx(30.0)  # middle half of 5 runs: 20, 30, 40
    assert first["mean"]["value"] == pytest.approx(220.0)
    assert first["iqm"]["ci_low"] <= 30.0 <= first["iqm"]["ci_high"]
    better = probability_of_improvement([5.0, 6.0, 7.0], [1.0, 2.0, 3.0])
    assert better["value"] == 1.0 and better["ci_low"] <= 1.0
    assert probability_of_improvement([1.0, 2.0], [1.0, 2.0])["value"] == 0.5


def test_two_sweeps_of_a_run_are_compared(write_yaml, tmp_path):
    stage = """
      - kind: train
        name: {name}
        env: gym/CartPole-v1
        agents: {{"*": {agent}}}
        steps: 200
        eval_every: 200
        eval_episodes: 2
        seeds: 2
    """
    text = "name: two\nstages:\n" + "".join(
        stage.format(name=n, agent=a) for n, a in (("pg", "reinforce"), ("ac", "a2c"))
    )
    run(load_scenario(write_yaml(text)), tmp_path / "run", show=False, workers=2)
    data = json.loads((tmp_path / "run" / "sweeps.json").read_text())
    pairs = data["probability_of_improvement"]
    assert pairs["pg > ac"]["value"] + pairs["ac > pg"]["value"] == pytest.approx(1.0)
    assert set(data["scores"]) == {"pg", "ac"} and len(data["scores"]["pg"]) == 2
    assert "## Sweeps compared" in (tmp_path / "run" / "summary.md").read_text()
    assert (tmp_path / "run" / "sweeps.png").stat().st_size > 0
