"""The registry: ids -> `module:attr` entries (plain data), resolved lazily, and builders that
check parameters. Importing it imports no environment or agent (testbed/registry/resolve.py)."""

from testbed.registry.catalog_agents import AGENTS
from testbed.registry.catalog_envs import ENVS
from testbed.registry.resolve import (
    agent_class,
    agent_config,
    agent_ids,
    build_agent,
    check_agent_id,
    check_env_id,
    check_env_param,
    check_env_params,
    env_factory,
    env_ids,
    env_param_names,
    is_reference,
    load_reference,
    make_agent,
    make_env,
    registered_only,
)
from testbed.registry.specs import ENV_KINDS, AgentSpec, EnvSpec

__all__ = [
    "AGENTS",
    "ENVS",
    "ENV_KINDS",
    "AgentSpec",
    "EnvSpec",
    "agent_class",
    "agent_config",
    "build_agent",
    "agent_ids",
    "check_agent_id",
    "check_env_id",
    "check_env_param",
    "check_env_params",
    "env_factory",
    "env_ids",
    "env_param_names",
    "is_reference",
    "load_reference",
    "make_agent",
    "make_env",
    "registered_only",
]
