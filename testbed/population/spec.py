"""The schema of `kind: population`: focal and background populations, scenarios, references."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from testbed.scenario.models import AgentRef, Count, EntrantRef, Loc, StageModel, Strict


class PopulationScenario(Strict):
    """One test scenario: how many seats the focal population takes and which bots fill the
    others (Melting Pot: a substrate, a background population and a number of focal players)."""

    mode: Literal["resident", "visitor"]
    """resident: the focal population is the majority (every focal-eligible seat but
    `background_seats`); visitor: the minority (`focal_seats`, default 1)."""
    background: list[str] | None = None
    """Background bots sampled for the other seats (uniformly, per seat and episode);
    default every bot of `background`."""
    focal_seats: Count | None = None
    """Visitor mode: focal players per episode (default 1)."""
    background_seats: Count | None = None
    """Resident mode: focal-eligible seats left to the background (default 1)."""


class Normalise(Strict):
    """Focal per-capita return mapped to a score: `zero` population -> 0, `one` -> 1."""

    zero: str
    one: str | list[str]
    """A reference population, or several: per scenario, the one scoring best (as Melting
    Pot's exploiters, the best-known response differs between scenarios)."""

    def ones(self) -> list[str]:
        return [self.one] if isinstance(self.one, str) else list(self.one)


class PopulationStage(StageModel):
    """`kind: population`: a focal population plays with background bots in resident and
    visitor scenarios; focal per-capita return (raw and normalised) and the background's."""

    kind: Literal["population"]
    focal: dict[str, EntrantRef] = Field(min_length=1)
    """The population under test: member name -> agent (or a team, `agents:`); each focal
    seat of an episode is played by one member drawn uniformly at random."""
    background: dict[str, EntrantRef] = Field(min_length=1)
    """Bots that fill the non-focal seats: name -> agent (or a team for role-based envs)."""
    references: dict[str, dict[str, EntrantRef]] = Field(default_factory=dict)
    """Named reference populations played in the focal population's place on the same
    seeds and seats (e.g. random, or the bots themselves), for `normalise`."""
    normalise: Normalise | None = None
    focal_agents: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    """Env-agent patterns focal players may take (e.g. `adversary_*` for MPE tag's
    predators); every other env agent is always played by the background."""
    scenarios: dict[str, PopulationScenario] = Field(
        default_factory=lambda: {
            "resident": PopulationScenario(mode="resident"),
            "visitor": PopulationScenario(mode="visitor"),
        }
    )
    episodes: Count = 20
    """Episodes per scenario and population (all populations on the same seeds)."""

    def agent_refs(self) -> list[tuple[Loc, AgentRef]]:
        refs = [r for n, e in self.focal.items() for r in e.refs(("focal", n))]
        refs += [r for n, e in self.background.items() for r in e.refs(("background", n))]
        for name, members in self.references.items():
            refs += [r for n, e in members.items() for r in e.refs(("references", name, n))]
        return refs

    def populations(self) -> dict[str, dict[str, EntrantRef]]:
        """The focal population (`focal`) and every reference population, by name."""
        return {"focal": self.focal, **self.references}

    @model_validator(mode="after")
    def _names_known(self) -> PopulationStage:
        if "focal" in self.references:
            raise ValueError("`focal` names the population under test; rename that reference")
        for name, scenario in self.scenarios.items():
            unknown = [b for b in scenario.background or [] if b not in self.background]
            if unknown:
                raise ValueError(
                    f"scenario {name!r}: background bot {unknown[0]!r} is not in `background` "
                    f"({', '.join(self.background)})"
                )
            if scenario.mode == "resident" and scenario.focal_seats is not None:
                raise ValueError(f"scenario {name!r}: resident mode takes `background_seats`")
            if scenario.mode == "visitor" and scenario.background_seats is not None:
                raise ValueError(f"scenario {name!r}: visitor mode takes `focal_seats`")
        if self.normalise is not None:
            for end in (self.normalise.zero, *self.normalise.ones()):
                if end not in self.references and end != "focal":
                    raise ValueError(f"normalise: {end!r} is not one of `references`")
        return self
