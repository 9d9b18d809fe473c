"""`make_vec_env`: N copies of a registered env, in the implementation asked for."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, get_args

from testbed.errors import BadInput, exception_text
from testbed.rollout.vector import SyncVecEnv, VecEnv
from testbed.rollout.vector_subproc import SubprocVecEnv

Vectorization = Literal["auto", "native", "sync", "subprocess"]


def make_vec_env(
    env_id: str,
    num_envs: int,
    *,
    vectorization: Vectorization = "auto",
    step_limit: int | None = None,
    make: Callable[[], Any] | None = None,
    where: str | None = None,
    **params: Any,
) -> VecEnv:
    """`num_envs` copies of the env registered as `env_id`: its native batched implementation
    when there is one (`EnvSpec.vector`; `auto` or `native`), else copies in this process
    (`sync`) or in worker processes (`subprocess`). `make` builds one copy for the generic
    implementations (default: `registry.make_env(env_id, **params)`); `where` places input
    errors in a scenario file. Parameters are checked and converted as `make_env` does.
    `step_limit` cuts every episode after that many steps (a train stage's `max_steps`); an
    env's own parameter of that name (e.g. four rooms' `max_steps`) goes in `params`."""
    from testbed import registry

    if vectorization not in get_args(Vectorization):
        raise BadInput(
            f"vectorization must be one of {', '.join(get_args(Vectorization))}, "
            f"got {vectorization!r}",
            where=where,
        )
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise BadInput(f"num_envs must be a whole number of at least 1, got {num_envs!r}",
                       where=where)  # fmt: skip
    spec = registry.ENVS.get(env_id)
    native = getattr(spec, "vector", None)
    if vectorization == "native" and native is None:
        raise BadInput(
            f"env {env_id!r} has no native batched implementation",
            where=where,
            hint="use vectorization: sync (copies in this process) or subprocess",
        )
    if native is not None and vectorization in ("auto", "native"):
        single = registry.env_factory(env_id)
        checked = registry.check_env_params(
            single, params, name=env_id,
            where_of=lambda key: f"{where}.params.{key}" if where else None,
        )  # fmt: skip
        try:
            return registry.load_reference(native)(num_envs, **checked, max_steps=step_limit)
        except (TypeError, ValueError, AssertionError) as exc:
            reason = f"env {env_id!r} rejected its parameters: {exception_text(exc)}"
            raise BadInput(reason, where=where) from exc
    one = make or functools.partial(registry.make_env, env_id, **params)
    if vectorization == "subprocess":
        return SubprocVecEnv(one, num_envs, max_steps=step_limit)
    return SyncVecEnv(one, num_envs, step_limit)
