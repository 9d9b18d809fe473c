"""Imitation benchmark on CartPole-v1: BC and DAgger against the number of expert
demonstrations, 3 seeds each, with a trained PPO as the expert.

    .venv/bin/python benchmarks/imitation.py            # ~5 min on a free core
    .venv/bin/python benchmarks/imitation.py --gail     # GAIL, 200k env steps per seed (after)
    .venv/bin/python benchmarks/imitation.py --states   # BC vs DAgger by labelled states (after)
    .venv/bin/python benchmarks/imitation.py --table    # only rebuild the table

The expert is PPO trained with the settings of benchmarks/learning_specs.py (seed 0), saved
as a checkpoint. For n demonstrations:
- BC: n expert episodes (its `act` policy, 500 steps each when it balances), collected with
  the collect stage's recorder (testbed/datasets/collect.py), `--bc-steps` gradient steps
  (batch 64), evaluated on held-out episodes;
- DAgger: n rounds of 500 env steps (n episodes' worth of expert-labelled states), the expert
  loaded from the checkpoint and queried online, beta 1 then halving, `--dagger-steps`
  gradient steps on the aggregate after each round; evaluated after round n.
- by labelled states (`--states`): CartPole needs a single expert episode, so the curve above
  is flat; this one counts expert-labelled states k (20 to 320): BC on k states drawn from
  10 expert episodes, BC on the first k steps of expert play, DAgger with 4 rounds of k/4
  env steps.
- GAIL (`--gail`): our PPO (the CartPole settings) on the discriminator's reward from 50
  expert episodes, 200k env steps on 8 copies, evaluated on the env's reward.
Writes benchmarks/results/imitation.json and benchmarks/results/imitation.md (mean return and
95 % t-interval over seeds; the expert's own return; the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from learning_specs import SPECS  # noqa: E402

from testbed.agents.common.nets import deterministic_torch  # noqa: E402
from testbed.datasets.collect import play_and_record  # noqa: E402
from testbed.datasets.transitions import to_transitions  # noqa: E402
from testbed.evaluate.stats import summarize  # noqa: E402
from testbed.registry import make_agent, make_env  # noqa: E402
from testbed.registry.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from testbed.rollout.make_vec import make_vec_env  # noqa: E402
from testbed.rollout.team import PolicyTeam  # noqa: E402
from testbed.seeding import stream_seed  # noqa: E402
from testbed.train.loop import evaluate, train  # noqa: E402
from testbed.train.vector_loop import train_vectorized  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DEMOS = [1, 2, 5, 10, 25, 50]
DAGGER_ROUNDS = [1, 2, 5, 10]
STATES = [20, 40, 80, 160, 320]
EXPERT_CACHE: Path | None = None  # --expert-cache
METHODS = ("bc", "bc_prefix", "dagger")
AGENT = "agent_0"


def train_expert(folder: Path) -> tuple[Any, float, float]:
    """PPO on CartPole (seed 0), saved to `folder`; loaded from there when it holds one."""
    spec = SPECS["ppo"]
    deterministic_torch(0)
    env = make_env(spec.env)
    obs, act = env.observation_space(AGENT), env.action_space(AGENT)
    if (folder / "config.json").exists():
        expert = load_checkpoint(folder, obs, act)
        return expert, evaluate(env, {AGENT: expert}, 777, 20)[0], 0.0
    expert = make_agent(spec.agent, obs, act, **spec.params)
    started = time.perf_counter()
    copies = make_vec_env(spec.env, spec.num_envs)
    train_vectorized(copies, {AGENT: expert}, spec.steps, 0)
    copies.close()
    seconds = time.perf_counter() - started
    save_checkpoint(folder, expert, agent_id=spec.agent, params=spec.params,
                    observation_space=obs, action_space=act)  # fmt: skip
    ret, _ = evaluate(env, {AGENT: expert}, 777, 20)
    return expert, ret, seconds


def bc_run(expert: Any, n: int, seed: int, steps: int, episodes: int) -> float:
    env = make_env("gym/CartPole-v1")
    obs, act = env.observation_space(AGENT), env.action_space(AGENT)
    team = PolicyTeam({AGENT: expert})
    demos = [play_and_record(env, team, stream_seed(seed, "demo", k))[AGENT] for k in range(n)]
    deterministic_torch(seed)
    bc = make_agent("bc", obs, act)
    bc.load_data(to_transitions(demos, obs, act))
    for _ in range(steps):
        bc.update()
    ret, _ = evaluate(env, {AGENT: bc}, 10_000 + seed, episodes)
    env.close()
    return ret


def dagger_run(folder: Path, seed: int, steps: int, episodes: int) -> dict[int, float]:
    env = make_env("gym/CartPole-v1")
    eval_env = make_env("gym/CartPole-v1")
    obs, act = env.observation_space(AGENT), env.action_space(AGENT)
    deterministic_torch(seed)
    dagger = make_agent("dagger", obs, act, expert_checkpoint=str(folder), round_steps=500,
                        gradient_steps=steps)  # fmt: skip
    scores: dict[int, float] = {}

    def on_step(state: Any) -> None:
        if dagger.rounds in DAGGER_ROUNDS and dagger.rounds not in scores:
            scores[dagger.rounds] = evaluate(eval_env, {AGENT: dagger}, 10_000 + seed, episodes)[0]

    train(env, {AGENT: dagger}, 500 * max(DAGGER_ROUNDS) + 1, seed, on_step=on_step)
    env.close()
    eval_env.close()
    return scores


def gail_run(expert: Any, seed: int, steps: int, episodes: int) -> float:
    """GAIL over our PPO (the CartPole settings, annealed over `steps`) from 50 expert episodes,
    on 8 env copies; the env's reward is never seen."""
    spec = SPECS["ppo"]
    env = make_env("gym/CartPole-v1")
    obs, act = env.observation_space(AGENT), env.action_space(AGENT)
    team = PolicyTeam({AGENT: expert})
    demos = [play_and_record(env, team, stream_seed(seed, "demo", k))[AGENT] for k in range(50)]
    deterministic_torch(seed)
    gail = make_agent("gail", obs, act, **{**spec.params, "anneal_steps": steps})
    gail.load_data(to_transitions(demos, obs, act))
    copies = make_vec_env(spec.env, spec.num_envs)
    train_vectorized(copies, {AGENT: gail}, steps, seed)
    copies.close()
    ret, _ = evaluate(env, {AGENT: gail}, 10_000 + seed, episodes)
    env.close()
    return ret


def run_gail(seeds: int, steps: int, episodes: int) -> dict[str, Any]:
    """GAIL alone, added to an existing imitation.json."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        expert, expert_return, _ = train_expert(Path(tmp) / "expert")
    started = time.perf_counter()
    values = [gail_run(expert, s, steps, episodes) for s in range(seeds)]
    out = json.loads((RESULTS / "imitation.json").read_text())
    out["gail"] = {
        **interval(values),
        "env_steps": steps,
        "demonstrations": 50,
        "expert_return": expert_return,
        "seconds": time.perf_counter() - started,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    (RESULTS / "imitation.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"GAIL: {out['gail']['mean']:.1f} {out['gail']['ci']}", flush=True)
    return out


def states_run(expert: Any, folder: Path, k: int, seed: int, episodes: int) -> dict[str, float]:
    """BC on k states drawn from 10 expert episodes, BC on the first k steps of expert play
    (the same env steps as DAgger), and DAgger with 4 rounds of k/4 env steps (k
    expert-labelled states in all, 500 gradient steps per round)."""
    env = make_env("gym/CartPole-v1")
    obs, act = env.observation_space(AGENT), env.action_space(AGENT)
    team = PolicyTeam({AGENT: expert})
    demos = [play_and_record(env, team, stream_seed(seed, "demo", e))[AGENT] for e in range(10)]
    data = to_transitions(demos, obs, act)
    pick = np.random.default_rng(seed).choice(len(data["rewards"]), k, replace=False)
    subset = {key: value[pick] for key, value in data.items()}
    prefix = {key: value[:k] for key, value in data.items()}  # the first k expert steps
    returns = {}
    for name, part in (("bc", subset), ("bc_prefix", prefix)):
        deterministic_torch(seed)
        bc = make_agent("bc", obs, act)
        bc.load_data(part)
        for _ in range(2000):
            bc.update()
        returns[name] = evaluate(env, {AGENT: bc}, 10_000 + seed, episodes)[0]
    deterministic_torch(seed)
    dagger = make_agent("dagger", obs, act, expert_checkpoint=str(folder), round_steps=k // 4,
                        gradient_steps=500)  # fmt: skip
    train(env, {AGENT: dagger}, 4 * (k // 4), seed)
    assert dagger.rounds == 4
    dagger_return = evaluate(env, {AGENT: dagger}, 10_000 + seed, episodes)[0]
    env.close()
    return {**returns, "dagger": dagger_return}


def run_states(seeds: int, episodes: int) -> dict[str, Any]:
    """The curve in expert-labelled states (CartPole needs too few episodes to show one)."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = EXPERT_CACHE or Path(tmp) / "expert"
        expert, _, _ = train_expert(folder)
        rows = {}
        for k in STATES:
            runs = [states_run(expert, folder, k, s, episodes) for s in range(seeds)]
            rows[str(k)] = {m: interval([r[m] for r in runs]) for m in METHODS}
            print(f"{k:>4} states: BC {rows[str(k)]['bc']['mean']:.1f}, DAgger "
                  f"{rows[str(k)]['dagger']['mean']:.1f}", flush=True)  # fmt: skip
    out = json.loads((RESULTS / "imitation.json").read_text())
    out["by_states"] = {"rows": rows, "load_average_before": load_before,
                        "load_average_after": os.getloadavg()}  # fmt: skip
    (RESULTS / "imitation.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def interval(values: list[float]) -> dict[str, Any]:
    s = summarize(values)
    return {"mean": s.mean, "ci": [s.ci_low, s.ci_high], "values": values}


def run(seeds: int, bc_steps: int, dagger_steps: int, episodes: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "expert"
        expert, expert_return, expert_seconds = train_expert(folder)
        print(f"expert PPO: {expert_return:.1f} ({expert_seconds:.0f} s)", flush=True)
        bc = {}
        for n in DEMOS:
            bc[n] = interval([bc_run(expert, n, s, bc_steps, episodes) for s in range(seeds)])
            print(f"BC {n:>3} demos: {bc[n]['mean']:.1f} {bc[n]['ci']}", flush=True)
        per_seed = [dagger_run(folder, s, dagger_steps, episodes) for s in range(seeds)]
    dagger = {n: interval([run_[n] for run_ in per_seed]) for n in DAGGER_ROUNDS}
    for n, r in dagger.items():
        print(f"DAgger {n:>3} rounds: {r['mean']:.1f} {r['ci']}", flush=True)
    out = {
        "env": "gym/CartPole-v1",
        "expert": {"agent": "ppo", "params": SPECS["ppo"].params, "steps": SPECS["ppo"].steps,
                   "return": expert_return, "train_seconds": expert_seconds},
        "seeds": seeds,
        "eval_episodes": episodes,
        "bc_gradient_steps": bc_steps,
        "dagger_gradient_steps_per_round": dagger_steps,
        "bc": {str(k): v for k, v in bc.items()},
        "dagger": {str(k): v for k, v in dagger.items()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }  # fmt: skip
    (RESULTS / "imitation.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def gail_line(gail: Any) -> str:
    if not isinstance(gail, dict):
        return "GAIL: not run."
    lo, hi = gail["ci"]
    return (
        f"GAIL ({gail['env_steps']:,} env steps, {gail['demonstrations']} expert episodes, "
        f"PPO inside): {gail['mean']:.1f} [{lo:.1f}, {hi:.1f}] (load average "
        f"{gail['load_average_before'][0]:.1f} -> {gail['load_average_after'][0]:.1f})."
    )


def write_table() -> str:
    r = json.loads((RESULTS / "imitation.json").read_text())
    lines = [
        f"CartPole-v1, expert PPO ({r['expert']['steps']:,} steps) returns "
        f"{r['expert']['return']:.1f}; {r['seeds']} seeds, {r['eval_episodes']} held-out "
        f"episodes each; BC {r['bc_gradient_steps']:,} gradient steps, DAgger "
        f"{r['dagger_gradient_steps_per_round']:,} per round; load average "
        f"{r['load_average_before'][0]:.1f} -> {r['load_average_after'][0]:.1f}. "
        + gail_line(r.get("gail")),
        "",
        "| demonstrations (episodes / DAgger rounds of 500 steps) | BC | DAgger |",
        "|---|---|---|",
    ]
    for n in DEMOS:
        cells = []
        for method in ("bc", "dagger"):
            v = r[method].get(str(n))
            cells.append(f"{v['mean']:.1f} [{v['ci'][0]:.1f}, {v['ci'][1]:.1f}]" if v else "")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    by_states = r.get("by_states")
    if by_states:
        lines += [
            "",
            "By expert-labelled states (BC: k states drawn from 10 expert episodes, 2,000 "
            "gradient steps; DAgger: 4 rounds of k/4 env steps, 500 gradient steps each); load "
            f"average {by_states['load_average_before'][0]:.1f} -> "
            f"{by_states['load_average_after'][0]:.1f}:",
            "",
            "| labelled states | BC (k of 10 episodes) | BC (first k expert steps) | DAgger |",
            "|---|---|---|---|",
        ]
        for k, row in by_states["rows"].items():
            cells = [f"{row[m]['mean']:.1f} [{row[m]['ci'][0]:.1f}, {row[m]['ci'][1]:.1f}]"
                     for m in METHODS if m in row]  # fmt: skip
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    (RESULTS / "imitation.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--bc-steps", type=int, default=3000)
    parser.add_argument("--dagger-steps", type=int, default=1000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--gail", action="store_true", help="run GAIL only (into the json)")
    parser.add_argument("--gail-steps", type=int, default=200_000)
    parser.add_argument("--states", action="store_true", help="the curve in labelled states")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--expert-cache", type=Path, help="the expert's checkpoint folder "
                        "(trained and saved there when missing)")  # fmt: skip
    args = parser.parse_args()
    global EXPERT_CACHE
    EXPERT_CACHE = args.expert_cache
    if args.gail:
        run_gail(args.seeds, args.gail_steps, args.eval_episodes)
    elif args.states:
        run_states(args.seeds, args.eval_episodes)
    elif not args.table:
        run(args.seeds, args.bc_steps, args.dagger_steps, args.eval_episodes)
    print(write_table())


if __name__ == "__main__":
    main()
