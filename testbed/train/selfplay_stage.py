"""`kind: train` with `self_play:` (see `testbed.train.spec.SelfPlayOptions`).

The `SelfPlay` engine trains the stage's one learner against its own snapshots; each snapshot
is saved as a checkpoint under `<run>/<stage>/snapshots/step-N/`; the learning curve is the
learner's return against a fixed `eval_opponent`; after training a real tournament (round
robin, its scenario written to `<run>/<stage>/leaderboard.yaml`) rates the snapshots against
fixed entrants (a scripted bot, random), so the snapshots enter the persistent leaderboard.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.errors import BadInput, RunFailed, TestbedError
from testbed.registry.checkpoint import save_checkpoint
from testbed.report.format import slug
from testbed.rollout.build import build_env_or_fail, build_policy, seat_assignment
from testbed.scenario.document import Scenario
from testbed.seeding import stream_seed
from testbed.train.checkpoints import agent_source
from testbed.train.curves import Curve, curve_plot
from testbed.train.result import TrainResult
from testbed.train.selfplay import SelfPlay, SelfPlayEpisode, evaluate_both_seats
from testbed.train.selfplay_leaderboard import (
    db_path,
    default_entrants,
    leaderboard_scenario,
    run_leaderboard,
    snapshot_entrant,
)
from testbed.train.state import TrainState, is_learner

ProgressHook = Callable[[int, str], None]


def run_self_play(
    scenario: Scenario,
    index: int,
    out_dir: Path | None,
    on_progress: ProgressHook | None = None,
    *,
    db: str | Path | None = None,
) -> TrainResult:
    """Run a `kind: train` stage with `self_play:`; its result has `self_play` (snapshots and
    the leaderboard). `db` (the CLI's --db) overrides the stage's `self_play.db`."""
    name = scenario.stage_name(index)
    if out_dir is None:
        raise BadInput(
            f"self-play stage {name!r} needs a run folder for its snapshots",
            hint="pass --out (the CLI always has one), or `out=` to testbed.run",
        )
    run = _SelfPlayRun(scenario, index, Path(out_dir), on_progress)
    run.train()
    return run.rate(db)


def check_self_play(scenario: Scenario, index: int) -> None:
    """Build the env, the learner, the evaluation opponent and the fixed entrants, training
    nothing: bad input fails here."""
    _SelfPlayRun(scenario, index, Path("unused"), None).close()


class _SelfPlayRun:
    """One self-play run: the engine, its snapshots on disk, the curve, the leaderboard."""

    def __init__(
        self, scenario: Scenario, index: int, out_dir: Path, on_progress: ProgressHook | None
    ):
        from testbed.agents.common.nets import deterministic_torch  # torch: imported when used

        self.scenario, self.index, self.on_progress = scenario, index, on_progress
        self.stage = stage = scenario.stages[index]
        self.options = stage.self_play
        self.name = scenario.stage_name(index)
        self.seed = stream_seed(scenario.stage_seed(index), scenario.seed_stream(index), 0)
        self.folder = out_dir / slug(self.name)
        self.run_name = out_dir.resolve().name
        if len(scenario.stages) > 1:
            self.run_name = f"{self.run_name}/{slug(self.name)}"
        self.env = build_env_or_fail(scenario, index)
        self.eval_env = build_env_or_fail(scenario, index)
        self.agents = list(self.env.possible_agents)
        self._check_env()
        seats = seat_assignment(scenario, index, self.agents)
        self.ref = stage.agents[seats[self.agents[0]]]
        agent_where = self._where("agents", seats[self.agents[0]])
        first = self.agents[0]
        self.spaces = (self.env.observation_space(first), self.env.action_space(first))
        self._check_entrants()
        deterministic_torch(self.seed)  # as `kind: train` does: the same learner for the seed
        self.learner = build_policy(scenario, self.ref, *self.spaces, where=agent_where)
        if not is_learner(self.learner):
            raise BadInput(
                f"self-play stage {self.name!r}: {self.ref.label!r} does not learn "
                "(it has no explore/observe/update)",
                where=agent_where,
                hint="use a learning agent with discrete actions, e.g. ppo or dqn",
            )
        self.eval_opponents = {
            a: build_policy(
                scenario,
                self.options.eval_opponent,
                self.env.observation_space(a),
                self.env.action_space(a),
                where=self._where("self_play", "eval_opponent"),
            )
            for a in self.agents
        }
        options = self.options
        self.engine = SelfPlay(
            self.env, self.learner, options.snapshot_every, options.pool_size,
            options.latest_prob, options.opponent_policy,
        )  # fmt: skip
        self.agent_id, self.params = agent_source(self.ref, scenario)
        self.snapshots: dict[str, Path] = {}
        self.state = TrainState()
        self.recent: deque[SelfPlayEpisode] = deque(maxlen=20)
        self.eval_seed = stream_seed(self.seed, "eval", 0)

    def _where(self, *loc: Any) -> str | None:
        return self.scenario.where("stages", self.index, *loc)

    def _check_env(self) -> None:
        env_id = self.stage.env.id
        if not hasattr(self.env, "agent_iter") or len(self.agents) != 2:
            parallel = "" if hasattr(self.env, "agent_iter") else " and is parallel"
            raise BadInput(
                f"self-play needs a two-player turn-based (AEC) env; {env_id!r} has "
                f"agents {self.agents}{parallel}",
                where=self._where("env"),
            )
        spaces = {(str(self.env.observation_space(a)), str(self.env.action_space(a)))
                  for a in self.agents}  # fmt: skip
        if len(spaces) != 1:
            raise BadInput(
                f"self-play needs both seats of {env_id!r} to have the same spaces",
                where=self._where("env"),
            )

    def _check_entrants(self) -> None:
        """Build every fixed entrant now, so a bad one fails before training, not after."""
        for entrant, eref in (self.options.entrants or {}).items():
            for loc, sub in eref.refs(("self_play", "entrants", entrant)):
                build_policy(self.scenario, sub, *self.spaces, where=self._where(*loc))

    def save(self, target: Path, **meta: Any) -> None:
        save_checkpoint(
            target,
            self.learner,
            agent_id=self.agent_id,
            params=self.params,
            observation_space=self.spaces[0],
            action_space=self.spaces[1],
            meta={
                "step": self.state.step,
                "episodes": self.state.episodes,
                "env": self.stage.env.id,
                "env_params": self.stage.env.params,
                "scenario": self.scenario.name,
                "stage": self.name,
                "seed": self.seed,
                **meta,
            },
        )

    def on_snapshot(self, step: int, _learner: Any) -> None:
        target = self.folder / "snapshots" / f"step-{step}"
        self.save(target, snapshot=True)
        self.snapshots[snapshot_entrant(self.run_name, step)] = target

    def on_step(self, state: TrainState) -> None:
        stage = self.stage
        if state.step % stage.evaluation_interval == 0 or state.step == stage.steps:
            evaluation = evaluate_both_seats(
                self.eval_env, self.learner, self.eval_opponents, self.eval_seed,
                stage.eval_episodes, stage.max_steps,
            )  # fmt: skip
            self.curve.add(
                state.step,
                state.episodes,
                evaluation,
                [e.learner_return for e in self.recent],
                [e.costs.get(e.learner_seat, 0.0) for e in self.recent],
            )
        if self.on_progress is not None and (state.step % 100 == 0 or state.step == stage.steps):
            pool = f"pool {len(self.engine.pool.entries)}"
            self.on_progress(state.step, " · ".join(filter(None, [self.curve.status(), pool])))

    def close(self) -> None:
        self.env.close()
        self.eval_env.close()

    def train(self) -> None:
        stage = self.stage
        self.folder.mkdir(parents=True, exist_ok=True)
        self.curve = Curve(self.folder)
        try:
            self.engine.run(
                stage.steps,
                self.seed,
                state=self.state,
                max_steps=stage.max_steps,
                on_step=self.on_step,
                on_episode=lambda episode, _: self.recent.append(episode),
                on_snapshot=self.on_snapshot,
            )
            self.final = {}
            for agent in self.agents:
                target = self.folder / "checkpoints" / "final" / agent
                self.save(target, agent_name=agent)
                self.final[agent] = str(target.resolve())  # later stages may run elsewhere
        except TestbedError:
            raise
        except Exception as exc:
            self.save(self.folder / "checkpoints" / f"failed-step-{self.state.step}")
            raise RunFailed(
                f"self-play stage {self.name!r} failed at step {self.state.step}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        finally:
            self.curve.close()
            self.close()
        title = f"self-play {self.name} · {stage.env.id}"
        curve_plot(self.curve.rows, self.folder / "curve.png", title)
        self.training_seconds = self.curve.elapsed

    def rate(self, db: str | Path | None) -> TrainResult:
        """Rate the snapshots in the leaderboard tournament; the stage's result."""
        stage, options, scenario = self.stage, self.options, self.scenario
        fixed = (
            default_entrants(stage.env.id)
            if options.entrants is None
            else {n: e.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
                  for n, e in options.entrants.items()}
        )  # fmt: skip
        tournament = run_leaderboard(
            leaderboard_scenario(
                name=f"{scenario.name}-{slug(self.name)}-leaderboard",
                description=f"snapshots of self-play stage {self.name!r} of {scenario.name!r}",
                env=stage.env.model_dump(mode="json", exclude_defaults=True),
                snapshots=self.snapshots,
                entrants=fixed,
                leaderboard=options.leaderboard or f"{scenario.name}/{self.name}",
                db=db_path(db, options.db, scenario.base_dir),
                seed=stream_seed(self.seed, "leaderboard", 0),
                rounds=options.rounds,
                max_steps=stage.max_steps,
            ),
            self.folder,
        )
        leaderboard_keys = (
            "leaderboard", "db", "run_id", "games_total", "games_seconds", "leaderboard_table",
            "bradley_terry", "bradley_terry_error", "cross_play", "forfeits",
        )  # fmt: skip
        return TrainResult(
            name=self.name,
            env={"id": stage.env.id, "params": stage.env.params},
            seed=self.seed,
            steps=self.state.step,
            episodes=self.state.episodes,
            learners={a: self.ref.label for a in self.agents},
            curve=self.curve.rows,
            final_eval=self.curve.last,
            metrics=self.state.metrics,
            checkpoints=self.final,
            folder=str(self.folder),
            wall_time_s=self.curve.elapsed,
            self_play={
                "training_seconds": self.training_seconds,
                "eval_opponent": options.eval_opponent.label,
                "snapshots": {n: str(p) for n, p in self.snapshots.items()},
                "final_snapshot": list(self.snapshots)[-1],
                "episodes_against": {str(k): v for k, v in sorted(self.engine.faced.items())},
                "leaderboard": {key: getattr(tournament, key) for key in leaderboard_keys},
            },
        )
