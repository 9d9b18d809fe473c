"""Import Safety-Gymnasium on Python 3.11 (and on the modern stack), in one place.

Why: Safety-Gymnasium 1.0.0 declares numpy arrays as dataclass field defaults, e.g.
``color: np.array = COLOR['hazard']`` in ``safety_gymnasium/assets/geoms/hazards.py``. Python 3.11
rejects every unhashable default (``ValueError: mutable default <class 'numpy.ndarray'> for
field color is not allowed``); Python 3.10 rejected only ``list``, ``dict`` and ``set``.

What: `import_safety_gymnasium()` imports gymnasium first (gymnasium 0.29 loads its plugins on
import, gymnasium-robotics among them, which imports pettingzoo; docs/STACK.md, trap 4), then
imports `safety_gymnasium` and all its task and asset modules while `dataclasses._get_field` is
wrapped: a default that is unhashable but neither a list, dict nor set becomes
``field(default_factory=<deep copy of the default>)``. The class attribute itself is left as
it was, so ``Hazards.color`` is still the array. Each instance gets its own copy of the array
where Python 3.10 shared one; Safety-Gymnasium never mutates these defaults, so behaviour is
the same. The wrapper is removed when the import ends (also on error), so dataclasses defined
by any other code behave exactly as Python 3.11 defines them. Later calls return the module
already imported and patch nothing.

On the modern stack (gymnasium 1.x, numpy 2; `testbed._stack`) the import also applies the
steps of `testbed.envs.safety_modern` (before: aliases for removed gymnasium modules; after:
Car joint sensors, Safe MaMuJoCo attribute forwarding, ``safety_gymnasium.make``).

If Safety-Gymnasium or one of its runtime needs is missing, a `testbed.errors.BadInput` says
which install step provides it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import importlib
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

from testbed._stack import MODERN, stack
from testbed.envs import safety_modern
from testbed.errors import BadInput

# Modules whose dataclasses need the step. The package __init__ does not import the
# navigation tasks and their assets; `safety_gymnasium.make` would import them later, after
# the patch is gone, so they are imported here, inside it.
_MODULES = (
    "safety_gymnasium",
    "safety_gymnasium.builder",
    "safety_gymnasium.assets",
    "safety_gymnasium.tasks",
)

_INSTALL_HINT = (
    "`make` installs it; by hand: `pip install --no-deps safety-gymnasium==1.0.0 "
    "gymnasium-robotics==1.2.2` and `pip install 'testbed[safety]'` for their runtime needs "
    "(mujoco, imageio, xmltodict, jinja2, pygame)"
)

_lock = threading.Lock()


def _needs_factory(default: object) -> bool:
    """True for defaults Python 3.11 rejects but Python 3.10 accepted (e.g. numpy arrays)."""
    if default is dataclasses.MISSING or isinstance(default, dataclasses.Field):
        return False
    if isinstance(default, list | dict | set):
        return False  # rejected by every Python version: leave the error as it is
    return type(default).__hash__ is None


@contextlib.contextmanager
def unhashable_defaults_as_factories() -> Iterator[None]:
    """While active, a dataclass field whose default is an unhashable non-container value
    gets ``default_factory=<copy of the default>`` instead of raising ValueError."""
    original = dataclasses._get_field

    @functools.wraps(original)
    def get_field(cls: type, name: str, annotation: object, kw_only: bool) -> dataclasses.Field:
        default = getattr(cls, name, dataclasses.MISSING)
        if not _needs_factory(default):
            return original(cls, name, annotation, kw_only)
        own = name in cls.__dict__
        setattr(
            cls, name, dataclasses.field(default_factory=functools.partial(copy.deepcopy, default))
        )
        try:
            return original(cls, name, annotation, kw_only)
        finally:  # restore the class attribute, so the dataclass machinery leaves it alone
            if own:
                setattr(cls, name, default)
            else:
                delattr(cls, name)

    dataclasses._get_field = get_field
    try:
        yield
    finally:
        dataclasses._get_field = original


def import_safety_gymnasium() -> ModuleType:
    """Return the `safety_gymnasium` module, importing it with the compatibility step once."""
    module = sys.modules.get("safety_gymnasium")
    if module is not None and all(name in sys.modules for name in _MODULES):
        return module
    import gymnasium  # noqa: F401  (before pettingzoo and safety_gymnasium; docs/STACK.md, trap 4)

    with _lock, unhashable_defaults_as_factories():
        try:
            if stack() == MODERN:
                safety_modern.prepare()
            for name in _MODULES:
                importlib.import_module(name)
            if stack() == MODERN:
                safety_modern.patch_imported()
        except ModuleNotFoundError as exc:
            missing = exc.name or str(exc)
            raise BadInput(
                f"Safety-Gymnasium envs need the Python package {missing!r}, which is not "
                "installed",
                hint=_INSTALL_HINT,
            ) from exc
    return sys.modules["safety_gymnasium"]
