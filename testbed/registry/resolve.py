"""The registry: explicit, lazy `id -> "module:attr"` entries for environments and agents.

Importing this module imports no environment or agent. An id resolves, in order, to:

1. a built-in entry of `ENVS` (testbed/registry/catalog_envs.py) or `AGENTS`
   (testbed/registry/catalog_agents.py);
2. an entry point of a third-party package, group `testbed.envs` / `testbed.agents`, whose name
   is the id and whose value is `module:attr`;
3. user code, written in a scenario as `package.module:attr` or `path/to/file.py:Name` (a
   relative path is taken from the scenario file's folder).

An env entry is a factory `(**params) -> PettingZoo env` (Parallel or AEC). An agent entry is a
class built as `Class(observation_space, action_space, config)` where `config` is an instance of
its frozen `Class.Config` dataclass; scenario parameters are checked against that dataclass.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pettingzoo import AECEnv, ParallelEnv

from testbed.errors import BadInput, exception_text
from testbed.registry.catalog_agents import AGENTS
from testbed.registry.catalog_envs import ENVS
from testbed.registry.catalog_more import missing_here

# ---------------------------------------------------------------------------------------------
# Resolution


def is_reference(name: str) -> bool:
    """True for user code written as `module:attr` or `path/to/file.py:Name`."""
    return ":" in name


def _plugin_entries(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def env_ids() -> list[str]:
    return sorted(set(ENVS) | set(_plugin_entries("testbed.envs")))


def agent_ids() -> list[str]:
    return sorted(set(AGENTS) | set(_plugin_entries("testbed.agents")))


def _unknown(what: str, name: str, known: list[str], where: str | None) -> BadInput:
    if what == "env" and name in missing_here():
        return BadInput(
            f"{name!r} runs on the legacy dependency stack only: {missing_here()[name]}",
            where=where,
            hint="install testbed with constraints.txt (`make`, STACK=legacy; docs/STACK.md)",
        )
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:  # also match on the last part, e.g. "simple_spread" -> "mpe/simple_spread_v3"
        tails = {k.split("/")[-1]: k for k in known}
        close = [tails[t] for t in difflib.get_close_matches(name, list(tails), n=3, cutoff=0.5)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else None
    listing = f"`testbed list {what}s` shows them all"
    return BadInput(f"unknown {what} id {name!r}; {listing}", where=where, hint=hint)


def load_reference(ref: str, *, base_dir: Path | None = None, where: str | None = None) -> Any:
    """Import `module:attr` or `path/to/file.py:Name` and return the attribute."""
    target, _, attr = ref.rpartition(":")
    if not target or not attr:
        raise BadInput(f"{ref!r} is not of the form module:attr or file.py:Name", where=where)
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise BadInput(f"file {str(path)!r} not found (from {ref!r})", where=where)
        module_name = f"testbed_user_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except (Exception, SystemExit) as exc:
                del sys.modules[module_name]
                raise _import_failed(str(path), exc, where) from None
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise BadInput(f"cannot import module {target!r}: {exc}", where=where) from exc
        except (Exception, SystemExit) as exc:
            raise _import_failed(target, exc, where) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else None
        raise BadInput(f"{target!r} has no attribute {attr!r}", where=where, hint=hint) from None


def _import_failed(target: str, exc: BaseException, where: str | None) -> BadInput:
    if isinstance(exc, SystemExit):
        return BadInput(
            f"importing {target!r} called sys.exit({exc.code})",
            where=where,
            hint="a module an agent or env lives in must not exit when imported",
        )
    return BadInput(f"importing {target!r} failed: {exc!r}", where=where)


# ---------------------------------------------------------------------------------------------
# The trust boundary: code runs only where the user named it.

_code_allowed: contextvars.ContextVar[str | None] = contextvars.ContextVar("code", default=None)


@contextmanager
def registered_only(reason: str) -> Iterator[None]:
    """Within this block a reference to code (`module:attr`, `file.py:Name`) is refused with
    `reason` (e.g. while reading a checkpoint or a run folder: data must not import code)."""
    token = _code_allowed.set(reason)
    try:
        yield
    finally:
        _code_allowed.reset(token)


def _entry(
    what: str, name: str, builtin: Mapping[str, Any], where: str | None, base_dir: Path | None
) -> Any:
    if is_reference(name):
        refusal = _code_allowed.get()
        if refusal is not None:
            raise BadInput(f"{name!r} names code, which is not run here: {refusal}", where=where)
        return load_reference(name, base_dir=base_dir, where=where)
    if name in builtin:
        target = load_reference(builtin[name].entry, where=where)
        fixed = getattr(builtin[name], "fixed", None)
        return _bind(target, fixed, name) if fixed else target
    plugins = _plugin_entries(f"testbed.{what}s")
    if name in plugins:
        return load_reference(plugins[name], where=where)
    raise _unknown(what, name, sorted(set(builtin) | set(plugins)), where)


def _bind(factory: Callable, fixed: Mapping[str, Any], name: str) -> Callable:
    """`factory` with the entry's fixed parameters bound and hidden from its signature."""
    signature = inspect.signature(factory)

    def bound(**params: Any) -> Any:
        return factory(**fixed, **params)

    bound.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for n, p in signature.parameters.items() if n not in fixed]
    )
    bound.__name__ = bound.__qualname__ = name
    bound.__doc__, bound.__module__ = factory.__doc__, factory.__module__
    bound.__wrapped__ = factory  # type: ignore[attr-defined]  (for its annotations)
    return bound


def check_env_id(name: str, *, where: str | None = None) -> None:
    """Raise BadInput with a did-you-mean when `name` is not a known env id or a reference."""
    if not is_reference(name) and name not in ENVS and name not in _plugin_entries("testbed.envs"):
        raise _unknown("env", name, env_ids(), where)


def check_agent_id(name: str, *, where: str | None = None) -> None:
    if (
        not is_reference(name)
        and name not in AGENTS
        and name not in _plugin_entries("testbed.agents")
    ):
        raise _unknown("agent", name, agent_ids(), where)


def env_factory(name: str, *, where: str | None = None, base_dir: Path | None = None) -> Callable:
    """The factory an env id (or reference) names; it must look like one (a Python function or
    a PettingZoo env class), which is checked without calling it."""
    factory = _entry("env", name, ENVS, where, base_dir)
    is_env_class = isinstance(factory, type) and issubclass(factory, ParallelEnv | AECEnv)
    if not (is_env_class or inspect.isfunction(factory) or inspect.ismethod(factory)):
        raise BadInput(
            f"{name!r} is not an env factory: it is {_kind_of(factory)}",
            where=where,
            hint="name a Python function (or a PettingZoo env class) that returns a PettingZoo "
            "ParallelEnv or AECEnv",
        )
    return factory


def agent_class(name: str, *, where: str | None = None, base_dir: Path | None = None) -> type:
    """The class an agent id (or reference) names; it must be a class with `reset` and `act`
    (checked without building it)."""
    cls = _entry("agent", name, AGENTS, where, base_dir)
    if not isinstance(cls, type) or not all(
        callable(getattr(cls, method, None)) for method in ("reset", "act")
    ):
        raise BadInput(
            f"{name!r} is not an agent class: it is {_kind_of(cls)}",
            where=where,
            hint="name a class built as Cls(observation_space, action_space, config) with "
            "reset(seed) and act(observation, action_mask)",
        )
    return cls


def _kind_of(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__qualname__} (no reset/act)"
    if inspect.isbuiltin(obj):
        return f"the built-in function {getattr(obj, '__name__', obj)!r}"
    return f"a {type(obj).__name__}"


# ---------------------------------------------------------------------------------------------
# Construction with parameter checks


def _close(name: str, options: list[str]) -> str | None:
    """The nearest option, case-insensitively (so `n` finds `N`)."""
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def env_param_names(factory: Callable) -> list[str] | None:
    """Keyword parameters the factory accepts, or None when it takes **kwargs."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def check_env_param(factory: Callable, key: str, *, name: str, where: str | None = None) -> None:
    """Reject a parameter the factory does not accept, naming the ones it does."""
    accepted = env_param_names(factory)
    if accepted is None or key in accepted:
        return
    close = _close(key, accepted)
    raise BadInput(
        f"env {name!r} has no parameter {key!r}; it accepts: {', '.join(accepted)}",
        where=where,
        hint=f"did you mean {close!r}?" if close else None,
    )


def check_env_params(
    factory: Callable,
    params: Mapping[str, Any],
    *,
    name: str,
    where_of: Callable[[str], str | None],
) -> dict[str, Any]:
    """`params` as the factory's annotations read them (YAML's `3e-4` is a number), or one
    BadInput with every parameter the factory does not accept or whose value does not fit
    its annotation (`N: "three"`, `N: -3` under `Annotated[int, Ge(1)]`, `true` for an int)."""
    hints = _param_hints(factory)
    problems, checked = [], {}
    for key, value in params.items():
        try:
            check_env_param(factory, key, name=name, where=where_of(key))
            checked[key] = value
            if key in hints:
                label = f"env {name!r} parameter {key!r}"
                checked[key] = checked_value(hints[key], value, label, where_of(key))
        except BadInput as exc:
            problems.append(exc)
    if problems:
        raise BadInput.combine(problems)
    return checked


def _param_hints(factory: Callable) -> dict[str, Any]:
    target = inspect.unwrap(factory)
    if isinstance(target, type):
        target = target.__init__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable annotations: nothing to check against
        return {}


def checked_value(hint: Any, value: Any, label: str, where: str | None) -> Any:
    """`value` validated against a type hint (pydantic's conversions, e.g. a numeric string
    or a list for a tuple), except that a boolean is never a number."""
    from pydantic import TypeAdapter, ValidationError

    try:
        adapter = TypeAdapter(hint)
    except Exception:  # a type pydantic cannot check: the factory will say
        return value
    try:
        if isinstance(value, bool):
            return adapter.validate_python(value, strict=True)
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise BadInput(f"{label}: {exc.errors()[0]['msg']} (got {value!r})", where=where) from None


def make_env(
    name: str,
    *,
    where: str | None = None,
    base_dir: Path | None = None,
    **params: Any,
) -> Any:
    """Build the PettingZoo env registered as `name` (or a `module:attr` reference)."""
    factory = env_factory(name, where=where, base_dir=base_dir)
    params = check_env_params(
        factory, params, name=name, where_of=lambda key: f"{where}.params.{key}" if where else None
    )
    try:
        return factory(**params)
    except (TypeError, ValueError, AssertionError) as exc:
        reason = exception_text(exc)
        raise BadInput(f"env {name!r} rejected its parameters: {reason}", where=where) from exc


def agent_config(
    cls: type, params: Mapping[str, Any], *, name: str, where: str | None = None
) -> Any:
    """Validate `params` against `cls.Config` (a dataclass) and return the config instance."""
    config_cls = getattr(cls, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        if params:
            raise BadInput(f"agent {name!r} takes no parameters, got {sorted(params)}", where=where)
        return None
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    for key in params:
        if key not in fields:
            close = _close(str(key), list(fields))
            raise BadInput(
                f"agent {name!r} has no parameter {key!r}; "
                f"it accepts: {', '.join(fields) or '(none)'}",
                where=f"{where}.{key}" if where else None,
                hint=f"did you mean {close!r}?" if close else None,
            )
    from pydantic import TypeAdapter, ValidationError

    hints = typing.get_type_hints(config_cls, include_extras=True)
    for key, value in params.items():
        if isinstance(value, bool) and key in hints:  # `true` is not a count, nor a rate
            where_key = f"{where}.{key}" if where else None
            checked_value(hints[key], value, f"agent {name!r} parameter {key!r}", where_key)
    try:
        return TypeAdapter(config_cls).validate_python(dict(params))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"])
        if not loc:  # the config's own check (__post_init__) named the field in its message
            message = str(error["msg"]).removeprefix("Value error, ")
            named = [f for f in fields if message.startswith(f)]
            field = max(named, key=len) if named else None
            raise BadInput(
                f"agent {name!r} parameter{f' {field!r}' if field else 's'}: {message}",
                where=f"{where}.{field}" if where and field else where,
            ) from None
        got = error.get("input")
        raise BadInput(
            f"agent {name!r} parameter {loc!r}: {error['msg']} (got {got!r})",
            where=f"{where}.{loc}" if where else None,
        ) from None


def make_agent(
    name: str,
    observation_space: Any,
    action_space: Any,
    *,
    where: str | None = None,
    base_dir: Path | None = None,
    **params: Any,
) -> Any:
    """Build the agent registered as `name` for one PettingZoo agent's spaces."""
    cls = agent_class(name, where=where, base_dir=base_dir)
    return build_agent(cls, observation_space, action_space, params, name=name, where=where)


def build_agent(
    cls: type,
    observation_space: Any,
    action_space: Any,
    params: Mapping[str, Any],
    *,
    name: str,
    where: str | None = None,
) -> Any:
    """`cls(observation_space, action_space, config)` with `params` checked against its Config."""
    config = agent_config(cls, params, name=name, where=where)
    try:
        return cls(observation_space, action_space, config)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"agent {name!r} cannot act in this env: {exc}", where=where) from exc
