"""Package discovery that pyproject.toml cannot express: `envs/` and `agents/` install as
`testbed.envs` and `testbed.agents` (a top-level `agents` would collide with other packages)."""

from setuptools import find_packages, setup

own = find_packages(include=["envs", "envs.*", "agents", "agents.*"])
remapped = [f"testbed.{name}" for name in own]
setup(packages=find_packages(include=["testbed", "testbed.*"]) + remapped)
