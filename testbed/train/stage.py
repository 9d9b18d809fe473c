"""`kind: train`: learners train in the stage's env for a budget of env steps.

Every `eval_every` steps the evaluation policies (`act`) play `eval_episodes` held-out
episodes; the curve is appended to `curve.csv` (flushed, so a killed run keeps it) and drawn
to `curve.png`. Checkpoints (one folder per learning agent: config.json + weights.pt) go to
`<run>/<stage>/checkpoints/step-<N>/` and `.../final/`; later stages of the same scenario use
them as `checkpoint: "@<stage>/<agent>"`, other runs by path. `resume_from` continues from a
checkpoint folder at the step it was saved. With `self_play:` the stage trains one learner
against its own snapshots (testbed/train/selfplay_stage.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.context import StageContext
from testbed.datasets.store import check_id
from testbed.errors import BadInput, RunFailed, TestbedError
from testbed.registry.checkpoint import read_config
from testbed.report.format import slug
from testbed.rollout.build import (
    build_env_or_fail,
    build_policy,
    build_seats,
    build_vec_env,
    seat_assignment,
)
from testbed.rollout.vector import AgentsLeft
from testbed.scenario.document import Scenario
from testbed.seeding import stream_seed
from testbed.train.checkpoints import SavedUnit, resume_units, saved_units, scenario_path
from testbed.train.curves import Curve, curve_plot
from testbed.train.loop import evaluate, train
from testbed.train.offline import (
    learns_offline,
    load_datasets,
    offline_only,
    train_offline,
)
from testbed.train.result import TrainResult
from testbed.train.selfplay_stage import check_self_play, run_self_play
from testbed.train.shaping import Shaper, build_shaper
from testbed.train.state import EpisodeStats, TrainState, learns
from testbed.train.tasks import check_tasks, train_on_tasks
from testbed.train.transfer import apply_transfer
from testbed.train.vector_loop import choose_num_envs, train_vectorized

ProgressHook = Callable[[int, str], None]


def run_train(
    scenario: Scenario,
    index: int,
    out_dir: Path | None,
    on_progress: ProgressHook | None = None,
    *,
    db: Any = None,
    continue_from: Path | None = None,
    folder: Path | None = None,
) -> TrainResult:
    """Train the stage's learners; return the stage result (curve, checkpoints, final eval).
    `continue_from` is a checkpoint folder of this stage in this run folder (`--resume`);
    the stage's folder is `<out_dir>/<stage>/` unless `folder` names it (a sweep's seed)."""
    stage = scenario.stages[index]
    if stage.self_play is not None:
        return run_self_play(scenario, index, out_dir, on_progress, db=db)
    name = scenario.stage_name(index)
    if folder is not None:
        return _TrainRun(scenario, index, folder, on_progress, continue_from).run()
    return _TrainRun(scenario, index, stage_folder(out_dir, name), on_progress, continue_from).run()


def experiment_summaries(policies: dict[str, Any], learners: list[str]) -> dict[str, Any] | None:
    """{agent: what its experiments found} for learners that experimented (causal_q)."""
    found = {}
    for agent in learners:
        summary = getattr(policies[agent], "summary", None)
        result = summary() if callable(summary) else {}
        if result.get("steps"):
            found[agent] = result
    return found or None


def stage_folder(out_dir: Path | None, name: str) -> Path:
    """`<out_dir>/<stage>/`, where a train stage writes its curve and checkpoints."""
    if out_dir is None:
        raise BadInput(
            f"train stage {name!r} needs a run folder for its checkpoints",
            hint="pass --out (the CLI always has one), or `out=` to testbed.run",
        )
    return Path(out_dir) / slug(name)


def run_train_stage(context: StageContext) -> TrainResult:
    """The table's entry: `run_train` with a progress bar over env steps. Resuming a run
    folder, a finished stage is read back and an unfinished one continues from its newest
    checkpoint (a self-play stage starts again)."""
    continue_from = None
    if context.resume is not None:
        finished = context.resume.finished(context.name)
        if finished is not None:
            return TrainResult.from_dict(finished)  # type: ignore[return-value]
        if context.stage.self_play is None:
            continue_from = newest_checkpoint(context.resume.folder / slug(context.name))
    context.progress.start(f"train {context.name}", total=context.stage.steps)

    def on_progress(step: int, status: str) -> None:
        context.progress.update(completed=step, status=status)

    return run_train(
        context.scenario, context.index, context.options.out_dir, on_progress,
        db=context.options.db, continue_from=continue_from,
    )  # fmt: skip


def check_train(scenario: Scenario, index: int) -> None:
    """Build the stage's envs and learners (and load `resume_from`), training nothing: bad
    input fails here."""
    if scenario.stages[index].self_play is not None:
        check_self_play(scenario, index)
        return
    run = _TrainRun(scenario, index, Path("unused"), None)
    try:
        if scenario.stages[index].tasks is not None:
            check_tasks(scenario, index, run.env, run.seed, run.policies)
        if run.num_envs > 1:  # the copies build (two, in this process, are enough to tell)
            build_vec_env(scenario, index, 2, check=True).close()
    finally:
        run.close()


def newest_checkpoint(folder: Path) -> Path | None:
    """The `checkpoints/step-N` folder of a train stage with the largest N, if any."""
    steps = [
        (int(path.name.removeprefix("step-")), path)
        for path in (folder / "checkpoints").glob("step-*")
        if path.name.removeprefix("step-").isdigit()
    ]
    return max(steps)[1] if steps else None


class _TrainRun:
    """One run of a train stage: its env, learners, curve and checkpoints."""

    def __init__(
        self,
        scenario: Scenario,
        index: int,
        folder: Path,
        on_progress: ProgressHook | None,
        continue_from: Path | None = None,
    ):
        from testbed.agents.common.nets import deterministic_torch  # torch: imported when used

        self.scenario, self.index, self.folder = scenario, index, folder
        self.stage = stage = scenario.stages[index]
        self.name = scenario.stage_name(index)
        self.on_progress = on_progress
        self.seed = stream_seed(scenario.stage_seed(index), scenario.seed_stream(index), 0)
        deterministic_torch(self.seed)
        self.env = build_env_or_fail(scenario, index)
        self.eval_env = build_env_or_fail(scenario, index)
        seats = seat_assignment(scenario, index, list(self.env.possible_agents))
        self.policies = build_seats(
            scenario, stage.agents, seats, self.env, lambda p: self._where("agents", p)
        )
        self.offline = stage.dataset is not None
        if self.offline:
            check_id(stage.dataset, self._where("dataset"))
        self.learners = [
            a for a, p in self.policies.items() if learns(p) or (self.offline and learns_offline(p))
        ]
        needs_data = [
            a
            for a, p in self.policies.items()
            if offline_only(p) or getattr(p, "needs_dataset", False)
        ]
        if needs_data and not self.offline:
            raise BadInput(
                f"{needs_data[0]!r} learns from a dataset, and train stage {self.name!r} has none",
                where=self._where("agents"),
                hint="add `dataset: <id>` (a `kind: collect` stage writes one)",
            )
        if not self.learners:
            raise BadInput(
                f"no agent of train stage {self.name!r} learns (none has explore/observe/update)",
                where=self._where("agents"),
                hint="use a learning agent, e.g. dqn, ppo or sac (testbed list agents)",
            )
        self.units: dict[str, SavedUnit] = saved_units(
            scenario, stage.agents, self.policies, self.learners, seats, self.env
        )
        self.transfer = self._init_from() if stage.init_from is not None else None
        self.shaper: Shaper | None = None
        if stage.shaping is not None:
            self.shaper = build_shaper(
                stage.shaping, {a: self.policies[a] for a in self.learners}, self.env,
                self._load_for_shaping, where=self._where("shaping"),
            )  # fmt: skip
            if hasattr(self.env, "agent_iter"):
                raise BadInput("shaping works on parallel envs, not turn-based (AEC) ones",
                               where=self._where("shaping"))  # fmt: skip
        self.state = TrainState()
        self.continued = continue_from is not None or stage.resume_from is not None
        if self.continued:
            start = continue_from or scenario_path(scenario, stage.resume_from)
            step, episodes = resume_units(
                start, self.units, stage.steps, where=self._where("resume_from")
            )
            self.state = TrainState(step=step, episodes=episodes)
        self.recent: deque[EpisodeStats] = deque(maxlen=20)
        self.eval_seed = stream_seed(self.seed, "eval", 0)
        self.offline_only = self.offline and all(
            offline_only(self.policies[a]) for a in self.learners
        )
        self.num_envs = (
            1 if self.offline_only else choose_num_envs(scenario, index, self.env, self.policies)
        )
        self.previous_step = self.state.step
        for agent in self.learners:  # learners that experiment first (causal_q) need an env
            check = getattr(self.policies[agent], "check_lab", None)  # that allows it
            try:
                check is None or check(self.env)
            except ValueError as exc:
                raise BadInput(str(exc), where=self._where("agents")) from None

    def _where(self, *loc: Any) -> str | None:
        return self.scenario.where("stages", self.index, *loc)

    def _init_from(self) -> dict[str, Any]:
        """Copy the `init_from` checkpoint's fitting layers into every learning unit."""
        import torch

        spec = self.stage.init_from
        where = self._where("init_from", "checkpoint")
        folder = scenario_path(self.scenario, spec.checkpoint)
        read_config(folder, where=where)
        try:
            source = torch.load(folder / "weights.pt", weights_only=True)
        except Exception as exc:
            raise BadInput(
                f"init_from: {str(folder)!r}: weights do not load: {type(exc).__name__}: {exc}",
                where=where,
            ) from exc
        reports = {}
        for key, unit in self.units.items():
            try:
                reports[key] = apply_transfer(unit.learner, source, spec).to_dict()
            except ValueError as exc:
                raise BadInput(f"init_from: {exc}", where=self._where("init_from")) from None
        return reports

    def _load_for_shaping(self, checkpoint: str, obs_space: Any, action_space: Any) -> Any:
        from testbed.scenario.models import AgentRef

        return build_policy(
            self.scenario, AgentRef(checkpoint=checkpoint), obs_space, action_space,
            where=self._where("shaping", "checkpoint"),
        )  # fmt: skip

    def _evaluate_now(self, state: TrainState) -> None:
        stage = self.stage
        evaluation = evaluate(
            self.eval_env, self.policies, self.eval_seed, stage.eval_episodes,
            stage.max_steps, self.learners,
        )  # fmt: skip
        metrics = state.metrics
        extra = None
        if self.shaper is not None:
            metrics = {**metrics, "shaping": self.shaper.metrics()}
            extra = {"train_shaping": self.shaper.recent_episode_mean()}
        self.curve.add(
            state.step,
            state.episodes,
            evaluation,
            [sum(e.returns.get(a, 0.0) for a in self.learners) for e in self.recent],
            [sum(e.costs.get(a, 0.0) for a in self.learners) for e in self.recent],
            metrics,
            extra,
        )

    def checkpoint(self, tag: str) -> dict[str, str]:
        """Save every unit under `checkpoints/<tag>/`; {unit name: folder}."""
        paths = {}
        for key, unit in self.units.items():
            target = self.folder / "checkpoints" / tag / unit.folder
            unit.save(
                target,
                {
                    "step": self.state.step,
                    "episodes": self.state.episodes,
                    "env": self.stage.env.id,
                    "env_params": self.stage.env.params,
                    "agent_name": key,
                    "scenario": self.scenario.name,
                    "stage": self.name,
                    "seed": self.seed,
                },
            )
            paths[key] = str(target.resolve())  # later stages resolve it from their own folder
        return paths

    def on_step(self, state: TrainState) -> None:
        """Evaluate, checkpoint and report when the step count passes a multiple of their
        intervals (a vector step counts all its copies' steps)."""
        stage = self.stage
        before, self.previous_step = self.previous_step, state.step

        def passed(interval: int) -> bool:
            return state.step // interval > before // interval

        if passed(stage.evaluation_interval) or state.step == stage.steps:
            self._evaluate_now(state)
        if passed(stage.checkpoint_every or stage.evaluation_interval) and state.step < stage.steps:
            self.checkpoint(f"step-{state.step}")
        if self.on_progress is not None and (passed(100) or state.step == stage.steps):
            self.on_progress(state.step, self.curve.status())

    def train(self) -> None:
        """The learners' training: on N copies at once when `num_envs` > 1."""
        stage = self.stage
        hooks = {"on_step": self.on_step, "on_episode": lambda s, _: self.recent.append(s)}
        at_start = stage.eval_at_start
        if (at_start or (at_start is None and stage.init_from is not None)) and not self.continued:
            self._evaluate_now(self.state)
        if self.offline:
            load_datasets(
                stage.dataset, self.env, self.policies, self.learners, where=self._where("dataset")
            )
        if self.offline_only:  # gradient steps, no env interaction
            train_offline(self.policies, self.learners, stage.steps, self.state, self.on_step)
            return
        if stage.tasks is not None:
            try:
                train_on_tasks(
                    self.scenario, self.index, self.env, self.policies, self.seed, self.state,
                    self.num_envs, self.shaper, hooks,
                )  # fmt: skip
            except AgentsLeft as exc:
                raise BadInput(
                    str(exc), where=self._where("num_envs"), hint="use num_envs: 1"
                ) from exc
            return
        if self.num_envs == 1:
            train(
                self.env, self.policies, stage.steps, self.seed, state=self.state,
                max_steps=stage.max_steps, shaping=self.shaper, **hooks,
            )  # fmt: skip
            return
        vec_env = build_vec_env(self.scenario, self.index, self.num_envs)
        try:
            train_vectorized(
                vec_env, self.policies, stage.steps, self.seed, state=self.state,
                shaping=self.shaper, **hooks,
            )  # fmt: skip
        except AgentsLeft as exc:
            raise BadInput(str(exc), where=self._where("num_envs"), hint="use num_envs: 1") from exc
        finally:
            vec_env.close()

    def close(self) -> None:
        self.env.close()
        self.eval_env.close()

    def run(self) -> TrainResult:
        stage = self.stage
        self.folder.mkdir(parents=True, exist_ok=True)
        self.curve = Curve(
            self.folder,
            append=self.continued,
            tensorboard=stage.tensorboard,
            until=self.state.step if self.continued else None,
            extra=("train_shaping",) if self.shaper is not None else (),
        )
        try:
            self.train()
            final = self.checkpoint("final")
        except KeyboardInterrupt:  # stopped (SIGTERM, Ctrl-C): keep what was learned to resume
            if self.state.step > 0:
                self.checkpoint(f"step-{self.state.step}")
            raise
        except TestbedError:
            raise
        except Exception as exc:
            self.checkpoint(f"failed-step-{self.state.step}")  # what was learned, for a post-mortem
            raise RunFailed(
                f"training stage {self.name!r} failed at step {self.state.step}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        finally:
            self.curve.close()
            self.close()
        curve_plot(
            self.curve.rows, self.folder / "curve.png", f"train {self.name} · {stage.env.id}"
        )
        return TrainResult(
            name=self.name,
            env={"id": stage.env.id, "params": stage.env.params},
            seed=self.seed,
            steps=self.state.step,
            episodes=self.state.episodes,
            learners={key: stage.agents[u.pattern].label for key, u in self.units.items()},
            curve=self.curve.rows,
            final_eval=self.curve.last,
            metrics={
                **self.state.metrics,
                **({"shaping": self.shaper.metrics()} if self.shaper is not None else {}),
            },
            checkpoints=final,
            transfer=self.transfer,
            experiments=experiment_summaries(self.policies, self.learners),
            folder=str(self.folder),
            wall_time_s=self.curve.elapsed,
        )
