"""The schema of `kind: train`: budget, evaluation, checkpoints, resuming, self-play."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from testbed.meta.tasks import TaskSpec
from testbed.scenario.models import (
    AgentRef,
    Count,
    EntrantRef,
    Loc,
    NonNegativeCount,
    Number,
    Strict,
    TeamStage,
)
from testbed.train.shaping import ShapingSpec
from testbed.train.transfer import InitFrom


class SelfPlayOptions(Strict):
    """Self-play for two-player turn-based (AEC) games: the stage's one learner plays against a
    pool of frozen snapshots of itself, seats alternating each episode; every snapshot is saved
    as a checkpoint and, after training, rated against `entrants` in a leaderboard tournament."""

    snapshot_every: Count
    """Freeze a snapshot every this many env steps (plies); it joins the opponent pool and is
    saved under `<run>/<stage>/snapshots/step-N/` (step 0 and the final step are saved too)."""
    pool_size: Count = 10
    """Snapshots in the opponent pool: the newest this many (older ones stay on disk and in
    the leaderboard)."""
    latest_prob: Number = Field(default=0.8, ge=0, le=1)
    """Chance of facing the newest snapshot; otherwise an older pooled one, uniformly
    (OpenAI Five: 0.8)."""
    opponent_policy: Literal["explore", "act"] = "explore"
    """How snapshots play in training: their behaviour policy (`explore`, sampling: varied
    games) or their evaluation policy (`act`)."""
    eval_opponent: AgentRef = Field(default_factory=lambda: AgentRef(id="random"))
    """Fixed opponent of the evaluation games (the learner's `act`, seats alternating): the
    curve's eval_return is the learner's mean return against it."""
    entrants: dict[str, EntrantRef] | None = None
    """Fixed entrants the snapshots are rated against (default: `random` and every agent
    registered for the env, with default params)."""
    leaderboard: str | None = None
    """Leaderboard the snapshots enter; default `<scenario name>/<stage name>`."""
    db: str | None = None
    """SQLite file of the leaderboard; default `runs/leaderboard.sqlite` (the CLI's --db
    overrides)."""
    rounds: Count = 10
    """Rounds of the leaderboard tournament (each plays every pairing in both seat orders)."""


class TrainTasks(TaskSpec):
    """`tasks:` of a train stage: the env parameters of each training segment
    (testbed/train/tasks.py)."""

    every: Count
    """Env steps (over all copies) per segment; each segment trains on one drawn task."""


class TrainStage(TeamStage):
    """`kind: train`: learners among `agents` train for `steps` env steps; the others act."""

    trains_agents: ClassVar[bool] = True

    kind: Literal["train"]
    steps: Count
    """Training budget in env steps; with `dataset:` and offline learners (bc, cql, ...),
    in gradient steps (no env interaction)."""
    dataset: str | None = None
    """Minari dataset id the learners learn from (`kind: collect` writes them; multi-agent
    envs: each learner reads its own agent's `[namespace/]name/<agent>-vN`). Looked up under
    MINARI_DATASETS_PATH, else runs/datasets."""
    eval_every: Count | None = None
    """Evaluate on held-out seeds every this many steps (default: steps / 10)."""
    eval_episodes: Count = 10
    checkpoint_every: Count | None = None
    """Save checkpoints every this many steps (default: at each evaluation)."""
    resume_from: str | None = None
    """A checkpoint folder of an earlier run (holding one folder per learner) to continue."""
    tensorboard: bool = False
    """Also log to TensorBoard (needs the `tensorboard` package)."""
    num_envs: Count | None = None
    """Copies of the env stepped together, the learners acting and learning on all of them
    at once (default: the learners' own default, e.g. 8 for PPO; 1 for turn-based envs,
    learners that cannot batch, and envs whose agents leave mid-episode)."""
    vectorization: Literal["auto", "native", "sync", "subprocess"] = "auto"
    """How the copies run: the env's native batched implementation when it has one (`auto`,
    `native`), copies in this process (`sync`), or in worker processes (`subprocess`)."""
    self_play: SelfPlayOptions | None = None
    """Train one learner (every seat of `agents` names it) against snapshots of itself."""
    seeds: Count | list[NonNegativeCount] | None = None
    """A sweep: independent runs, one per seed (a count: the stage's seed and the next ones;
    or a list), each the same as the stage run alone with that `seed`, with its own curve and
    checkpoints under `<stage>/seed-<s>/`. Runs go to the executor (`--workers`, `--executor
    ray`); their final evaluations are aggregated across seeds (IQM, median, mean with
    stratified bootstrap intervals). `@<stage>/<agent>` names the first seed's checkpoint."""
    target_return: Number | None = None
    """A return the learners aim at (e.g. 500 on CartPole): a sweep also reports the
    optimality gap below it."""
    init_from: InitFrom | None = None
    """Transfer: start the learners from a checkpoint (a folder or `"@<stage>/<agent>"`), copying
    the layers that fit; `freeze: [layers]`, `reset_head: true` (testbed/train/transfer.py)."""
    eval_at_start: bool | None = None
    """Evaluate once before learning (step 0; default: with `init_from`), for jumpstart."""
    shaping: ShapingSpec | None = None
    """Reward shaping of what the learners learn from (potential-based or additive); the curve
    and every evaluation keep the env's own reward (testbed/train/shaping.py)."""
    tasks: TrainTasks | None = None
    """Multi-task training: every `tasks.every` env steps the learners move to a task drawn
    from `tasks.params` (env params over the stage's; testbed/train/tasks.py)."""

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        refs = super().agent_refs()
        if self.init_from is not None:
            refs.append((("init_from",), self.init_from))
        if self.self_play is not None:
            refs.append((("self_play", "eval_opponent"), self.self_play.eval_opponent))
            for name, entrant in (self.self_play.entrants or {}).items():
                refs += entrant.refs(("self_play", "entrants", name))
        return refs

    @model_validator(mode="after")
    def _seeds_distinct(self) -> TrainStage:
        seeds = self.seeds
        if isinstance(seeds, list) and (not seeds or len(set(seeds)) < len(seeds)):
            raise ValueError(f"`seeds` must list distinct seeds, got {self.seeds}")
        return self

    def sweep_seeds(self, stage_seed: int) -> list[int] | None:
        """The seeds of a sweep (None: one run)."""
        if self.seeds is None:
            return None
        if isinstance(self.seeds, list):
            return list(self.seeds)
        return [stage_seed + k for k in range(self.seeds)]

    @model_validator(mode="after")
    def _self_play_fits(self) -> TrainStage:
        if self.self_play is None:
            return self
        if self.seeds is not None:
            raise ValueError("`seeds` (a sweep) does not work with `self_play` yet")
        for option in ("resume_from", "checkpoint_every"):
            if getattr(self, option) is not None:
                raise ValueError(
                    f"`{option}` does not work with `self_play` (its snapshots are the "
                    "checkpoints: see self_play.snapshot_every)"
                )
        if self.tensorboard:
            raise ValueError("`tensorboard` does not work with `self_play` yet")
        if self.dataset is not None:
            raise ValueError("`dataset` does not work with `self_play`")
        if self.shaping is not None or self.init_from is not None or self.tasks is not None:
            raise ValueError("`shaping`, `init_from` and `tasks` do not work with `self_play` yet")
        if (self.num_envs or 1) > 1 or self.vectorization != "auto":
            raise ValueError(
                "`num_envs` and `vectorization` do not work with `self_play` (its turn-based "
                "games run one copy)"
            )
        if len({ref.model_dump_json() for ref in self.agents.values()}) != 1:
            raise ValueError(
                'self-play trains one learner: give it once for every seat, e.g. agents: {"*": ppo}'
            )
        return self

    @model_validator(mode="after")
    def _init_from_checkpoint(self) -> TrainStage:
        if self.init_from is not None and self.init_from.checkpoint is None:
            raise ValueError("`init_from` needs a `checkpoint` (a folder or @<stage>/<agent>)")
        if self.shaping is not None and self.dataset is not None:
            raise ValueError("`shaping` shapes env rewards; a `dataset` stage has no env steps")
        if self.tasks is not None and self.dataset is not None:
            raise ValueError("`tasks` draws envs to train in; a `dataset` stage has no env steps")
        return self

    @property
    def evaluation_interval(self) -> int:
        return self.eval_every or max(1, self.steps // 10)
