"""LLM-guided RL benchmark (issue 23, first part): does advice of controlled quality make an
advised learner more sample-efficient, and does wrong advice leave its optimum alone?

    nice -n 10 .venv/bin/python benchmarks/future_llm.py [--seeds 3] [--steps 100000]

Task: four rooms (`testbed/four_rooms_v0`) without slip (so the optimal policy, shortest paths
to the goal, is known exactly by breadth-first search), 200-step episodes, random starts.
Learner: tabular Q-learning (`q_learning`, alpha 0.5, gamma 0.99, epsilon 1 -> 0.05 over half
the budget). Arms, each over the same seeds:

- `unadvised`: the learner alone;
- `advised q=Q` for Q in {0, 0.25, 0.5, 0.75, 1}: `llm_advised` wrapping the same learner,
  following advice with probability 0.5 decaying linearly to 0 over a quarter of the budget. The
  advisor (`backend: scripted`, testbed.agents.llm.scripted:four_rooms_advisor) reads the
  agent's position from the prompt the `llm` plumbing builds (env docs + rendered map) and
  names a shortest-path action in a share Q of the states, a wrong action (on no shortest
  path) in the others, consistently per state;
- `advised q=0.75 over HTTP`: the same advisor served by a real OpenAI-compatible HTTP server
  on 127.0.0.1 (testbed.agents.llm.serve), called through the `openai` backend with its disk
  cache (a fresh folder per seed) and rate limit: the full language-model path;
- `shaped q=Q` for Q in {0, 1}: the potential-based route. The unadvised learner learns from
  r + gamma Phi(s') - Phi(s) where Phi(s) is a scripted rater's 0-10 closeness rating / 10
  (testbed.agents.llm.scripted:four_rooms_rater through testbed.agents.llm.rating, the same
  code as `shaping: {language_model: ...}`): exact in a share Q of the states, uniformly
  random in the others (Q = 0: a useless, misleading potential).

Every 1,000 env steps the greedy policy is run from each of the 103 start cells (no slip: one
deterministic episode each). Reported per arm with 95 % t-intervals over seeds: the area under
the success curve (mean share of starts that reach the goal, over all evaluations: sample
efficiency), env steps until the greedy policy first reaches the goal from >= 90 % of starts,
and at the end the success share (the env's return), the discounted return relative to the
optimal policy's (gamma^(steps - shortest), averaged over starts; 1 = optimal) and the share of
starts whose greedy path is a shortest path, plus language-model calls, cache hits and wall
time. Results: benchmarks/results/future_llm.json and future_llm.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see STACK.md trap 4)
import numpy as np
import torch

import testbed  # noqa: F401
from testbed.agents.llm.agent import LanguageModelConfig
from testbed.agents.llm.rating import LanguageModelPotential
from testbed.agents.llm.scripted import four_rooms_advisor, four_rooms_distances
from testbed.agents.llm.serve import ChatServer
from testbed.envs.four_rooms import AGENT, FREE, four_rooms_v0
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent
from testbed.train.shaping import potential_term

RESULTS = Path(__file__).parent / "results"
QUALITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
HTTP_QUALITY = 0.75
EPISODE_STEPS = 200
EVAL_EVERY = 1000
THRESHOLD = 0.9
GAMMA = 0.99
ADVISOR = "testbed.agents.llm.scripted:four_rooms_advisor"
RATER = "testbed.agents.llm.scripted:four_rooms_rater"
SHAPING_QUALITIES = (0.0, 1.0)


def learner_params(steps: int) -> dict[str, Any]:
    return {"learning_rate": 0.5, "gamma": GAMMA, "epsilon_decay_steps": steps // 2}


def build(arm: dict[str, Any], seed: int, steps: int, cache: Path, base_url: str) -> Any:
    env = four_rooms_v0(slip=0.0, max_steps=EPISODE_STEPS)
    obs_space, act_space = env.observation_space(AGENT), env.action_space(AGENT)
    if arm["quality"] is None or arm.get("shaping"):
        return make_agent("q_learning", obs_space, act_space, **learner_params(steps))
    common = {
        "env": "testbed/four_rooms_v0",
        "learner": "q_learning",
        "learner_params": learner_params(steps),
        "prior_start": 0.5,
        "prior_end": 0.0,
        "prior_decay_steps": steps // 4,
    }
    if arm["http"]:
        backend = {"backend": "openai", "model": "scripted-advisor", "base_url": base_url,
                   "cache_dir": str(cache), "calls_per_s": 500.0}  # fmt: skip
    else:
        backend = {"backend": "scripted", "model": ADVISOR, "cache_dir": "",
                   "scripted_params": {"quality": arm["quality"], "seed": seed}}  # fmt: skip
    return make_agent("llm_advised", obs_space, act_space, **common, **backend)


def greedy_scores(agent: Any) -> tuple[float, float, float]:
    """Greedy episodes from every start cell: (share reaching the goal, discounted return
    relative to the optimum's, share on a shortest path)."""
    env = four_rooms_v0(slip=0.0, max_steps=EPISODE_STEPS)
    distance = four_rooms_distances()
    reached = optimal = 0
    ratio = 0.0
    starts = [c for c in range(len(FREE)) if c != env.goal]
    for start in starts:
        env.reset(seed=0)
        env._cell = start  # a chosen start: the env draws starts at random
        cell, steps, done = start, 0, False
        while not done:
            obs, _, term, trunc, _ = env.step({AGENT: int(agent.act(cell))})
            cell, steps, done = int(obs[AGENT]), steps + 1, term[AGENT] or trunc[AGENT]
        if cell == env.goal:
            reached += 1
            optimal += int(steps == distance[start])
            ratio += GAMMA ** (steps - distance[start])
    return reached / len(starts), ratio / len(starts), optimal / len(starts)


def rating_potential(quality: float, seed: int) -> LanguageModelPotential:
    """Phi(s) = a scripted rater's 0-10 closeness rating / 10, through the language-model
    plumbing (prompt, call, parse); right in a share `quality` of the states."""
    config = LanguageModelConfig(backend="scripted", model=RATER, env="testbed/four_rooms_v0",
                                 scripted_params={"quality": quality, "seed": seed},
                                 cache_dir="")  # fmt: skip
    return LanguageModelPotential(four_rooms_v0().observation_space(AGENT), config)


def shaped(phi: LanguageModelPotential | None, obs: int, nxt: int, reward: float, term: bool):
    """The reward the learner sees: r + gamma Phi(s') - Phi(s) (Phi = 0 at the terminal)."""
    if phi is None:
        return reward
    x = np.eye(len(FREE), dtype=np.float32)[[obs, nxt]]
    values = phi(x)
    return reward + float(potential_term(values[:1], values[1:], GAMMA, np.array([term]))[0])


def run_arm(arm: dict[str, Any], seed: int, steps: int, base_url: str) -> dict[str, Any]:
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as cache:
        agent = build(arm, seed, steps, Path(cache), base_url)
        phi = rating_potential(arm["quality"], seed) if arm.get("shaping") else None
        env = four_rooms_v0(slip=0.0, max_steps=EPISODE_STEPS)
        started = time.perf_counter()
        curve: list[tuple[int, float, float, float]] = []
        step, episode = 0, 0
        while step < steps:
            observations, _ = env.reset(seed=seed * 100_003 + episode)
            obs, done, episode = observations[AGENT], False, episode + 1
            while not done and step < steps:
                action = agent.explore(obs)
                nxt, rew, term, trunc, _ = env.step({AGENT: action})
                done = term[AGENT] or trunc[AGENT]
                reward = shaped(phi, obs, nxt[AGENT], rew[AGENT], term[AGENT])
                agent.observe({"obs": obs, "action": action, "reward": reward,
                               "next_obs": nxt[AGENT], "terminated": term[AGENT],
                               "truncated": trunc[AGENT]})  # fmt: skip
                metrics = agent.update()
                obs, step = nxt[AGENT], step + 1
                if step % EVAL_EVERY == 0:
                    curve.append((step, *greedy_scores(agent)))
        wall = time.perf_counter() - started
    if phi is not None:
        metrics = phi.usage.as_dict()
    success = [c[1] for c in curve]
    reach = next((c[0] for c in curve if c[1] >= THRESHOLD), None)
    return {
        "auc": float(np.mean(success)),
        "steps_to_threshold": reach,
        "final_success": curve[-1][1],
        "final_return_ratio": curve[-1][2],
        "final_shortest": curve[-1][3],
        "curve": curve,
        "llm_calls": metrics.get("llm_calls", 0.0),
        "llm_cache_hits": metrics.get("llm_cache_hits", 0.0),
        "llm_fallbacks": metrics.get("llm_fallbacks", 0.0),
        "advised_steps": metrics.get("advised_steps", 0.0),
        "episodes": episode,
        "wall_s": wall,
    }


def arms() -> list[dict[str, Any]]:
    found = [{"name": "unadvised", "quality": None, "http": False}]
    found += [{"name": f"advised q={q:g}", "quality": q, "http": False} for q in QUALITIES]
    found.append({"name": f"advised q={HTTP_QUALITY:g} over HTTP", "quality": HTTP_QUALITY,
                  "http": True})  # fmt: skip
    found += [{"name": f"shaped q={q:g}", "quality": q, "http": False, "shaping": True}
              for q in SHAPING_QUALITIES]  # fmt: skip
    return found


def ci(values: list[float], digits: int = 3) -> str:
    s = summarize(values)
    return f"{s.mean:.{digits}f} [{s.ci_low:.{digits}f}, {s.ci_high:.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument(
        "--report",
        action="store_true",
        help="rewrite future_llm.md from future_llm.json, running nothing",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.report:
        saved = json.loads((args.out / "future_llm.json").read_text(encoding="utf-8"))
        args.steps = saved["meta"]["steps"]
        write(saved["arms"], args, saved["meta"]["seeds"], saved["meta"]["wall_s"])
        return
    seeds = list(range(args.seeds))
    results: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for arm in arms():
        results[arm["name"]] = []
        for seed in seeds:
            server = None
            if arm["http"]:
                server = ChatServer(four_rooms_advisor(HTTP_QUALITY, seed))
            try:
                row = run_arm(arm, seed, args.steps, server.base_url if server else "")
                if server is not None:
                    row["http_requests"] = server.requests
            finally:
                if server is not None:
                    server.close()
            results[arm["name"]].append(row)
            print(f"{arm['name']:>26} seed {seed}: auc {row['auc']:.3f} reach "
                  f"{row['steps_to_threshold']} final {row['final_success']:.2f}/"
                  f"{row['final_return_ratio']:.3f}/{row['final_shortest']:.2f} "
                  f"calls {row['llm_calls']:.0f} "
                  f"{row['wall_s']:.1f} s", flush=True)  # fmt: skip
    total = time.perf_counter() - started
    write(results, args, seeds, total)


def write(results: dict[str, list[dict[str, Any]]], args: Any, seeds: list[int], total: float):
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"seeds": seeds, "steps": args.steps, "episode_steps": EPISODE_STEPS,
            "eval_every": EVAL_EVERY, "threshold": THRESHOLD, "wall_s": total,
            "machine": f"{platform.machine()}, {platform.python_version()}, torch "
                       f"{torch.__version__}"}  # fmt: skip
    arms_text = ",\n".join(  # one line per run: curves stay readable in a diff
        f"  {json.dumps(name)}: [\n" + ",\n".join(f"   {json.dumps(r)}" for r in rows) + "]"
        for name, rows in results.items()
    )
    (args.out / "future_llm.json").write_text(
        f'{{"meta": {json.dumps(meta)},\n "arms": {{\n{arms_text}}}}}\n', encoding="utf-8"
    )
    lines = [
        "# LLM-guided RL: advice of controlled quality (four rooms, tabular Q-learning)",
        "",
        f"`nice -n 10 .venv/bin/python benchmarks/future_llm.py --seeds {len(seeds)} --steps "
        f"{args.steps}`: {len(seeds)} seeds, {args.steps} env steps per run, greedy policy "
        f"scored from all 103 start cells every {EVAL_EVERY} steps; mean [95% t-interval] over "
        f"seeds. Total wall time {total:.0f} s ({meta['machine']}).",
        "",
        "| arm | AUC of greedy success | steps to >= 90 % success | final success | "
        "final discounted return / optimum | final shortest-path share | LLM calls | "
        "cache hits | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        reach = [r["steps_to_threshold"] for r in rows]
        reached = [r for r in reach if r is not None]
        reach_text = (
            ci(reached, 0)
            if len(reached) == len(reach)
            else (f"{len(reached)}/{len(reach)} seeds reached")
        )
        lines.append(
            f"| {name} | {ci([r['auc'] for r in rows])} | {reach_text} | "
            f"{ci([r['final_success'] for r in rows])} | "
            f"{ci([r['final_return_ratio'] for r in rows])} | "
            f"{ci([r['final_shortest'] for r in rows])} | "
            f"{np.mean([r['llm_calls'] for r in rows]):.0f} | "
            f"{np.mean([r['llm_cache_hits'] for r in rows]):.0f} | "
            f"{np.mean([r['wall_s'] for r in rows]):.1f} |"
        )
    lines += ["", "Advice: followed with probability 0.5 decaying linearly to 0 over a quarter "
              "of the budget (epsilon decays over half); q = share of states whose advice is a "
              "shortest-path action (consistent per state). The HTTP row asks a real local "
              "OpenAI-compatible server through the `openai` backend, disk cache and rate "
              "limit (500 calls/s); its `LLM calls` are the real HTTP requests, the rest were "
              "cache hits. Shaped rows: the unadvised learner learns from r + gamma Phi(s') - "
              "Phi(s), Phi = a scripted rater's 0-10 closeness rating / 10 asked through the "
              "language-model plumbing (one call per state); q = share of states rated "
              "exactly, the others uniformly at random.", ""]  # fmt: skip
    lines += verdicts(results)
    (args.out / "future_llm.md").write_text("\n".join(lines), encoding="utf-8")


def verdicts(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The claim, checked on the table's numbers (means over seeds)."""
    auc = [float(np.mean([r["auc"] for r in results[f"advised q={q:g}"]])) for q in QUALITIES]
    rising = all(a <= b for a, b in zip(auc, auc[1:], strict=False))
    base = results["unadvised"]
    means = ", ".join(f"{a:.3f}" for a in auc)
    qs = ", ".join(f"{q:g}" for q in QUALITIES)
    unadvised = float(np.mean([r["auc"] for r in base]))
    lines = [
        f"- AUC means rise with q ({means} for q = {qs}): {'yes' if rising else 'NO'}; "
        f"unadvised {unadvised:.3f}. Paired by seed against unadvised (95 % t-interval of "
        "the difference; an interval holding 0 is marked not distinguishable):"
    ]
    for name, rows in results.items():
        if name == "unadvised":
            continue
        diff = summarize([r["auc"] - b["auc"] for r, b in zip(rows, base, strict=True)])
        lines.append(
            f"  - {name}: AUC {diff.mean:+.3f} [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}]"
            + ("" if diff.ci_low > 0 or diff.ci_high < 0 else " (not distinguishable)")
        )
    for name, rows in results.items():
        if name == "unadvised":
            continue
        same = all(r["final_success"] == b["final_success"] for r, b in zip(rows, base))  # noqa: B905
        shares = ", ".join(f"{r['final_shortest']:.2f}" for r in rows)
        base_shares = ", ".join(f"{b['final_shortest']:.2f}" for b in base)
        lines.append(
            f"- {name}: final greedy success equals the unadvised learner's on every seed: "
            f"{'yes' if same else 'NO'}; shortest-path share per seed {shares} (unadvised "
            f"{base_shares})."
        )
    return [*lines, ""]


if __name__ == "__main__":
    main()
