"""One line on whether Bradley–Terry/Elo, α-Rank and Nash averaging agree, and why not.

Bradley–Terry and Elo rank by mean score against the field: one strength per entrant, so
they assume "A beats B and B beats C" implies "A beats C". When the payoff table has a cycle
(A beats B beats C beats A) no strength order can represent it, and the order they report
depends on who else is in the field: beating a weak entrant lifts one member of the cycle
above the others. Nash averaging rates entrants against the field's unexploitable mix and
α-Rank by where evolution under selection spends its time; both treat a cycle's members
alike. `compare` finds a cycle (significant edges first: the Jeffreys interval of the cell
excludes 1/2) and says which entrant the BT order favours, thanks to whom.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def find_cycle(beats: np.ndarray, prefer: int | None = None) -> list[int] | None:
    """A 3-cycle i -> j -> k -> i of the relation `beats` (i beats j), one through `prefer`
    when there is one. A complete tournament with any cycle has a 3-cycle."""
    n = len(beats)
    order = list(range(n))
    if prefer is not None:
        order.remove(prefer)
        order.insert(0, prefer)
    for i in order:
        for j in range(n):
            if not beats[i, j]:
                continue
            for k in range(n):
                if beats[j, k] and beats[k, i]:
                    return [i, j, k]
    return None


def compare(game_theory: dict[str, Any], bt_order: Sequence[str]) -> dict[str, Any]:
    """{agree, cycle, significant, line}: do BT/Elo (`bt_order`, best first), α-Rank and Nash
    averaging agree on the best entrant, and if not, why."""
    names = list(game_theory["entrants"])
    index = {n: i for i, n in enumerate(names)}
    payoff = np.array(game_theory["payoff"], dtype=float)
    low = np.nan_to_num(np.array(game_theory["payoff_low"], dtype=float), nan=0.5)
    rows = {r["entrant"]: r for r in game_theory["ratings"]}
    nash_best = [n for n in names if rows[n]["nash"] == 0.0]
    nash_best.sort(key=lambda n: -rows[n]["nash_mass"])
    alpha_best = max(names, key=lambda n: rows[n]["alpharank"])
    top = bt_order[0] if bt_order else alpha_best
    cycle = find_cycle(low > 0.5, index[top])
    significant = cycle is not None
    if cycle is None:
        cycle = find_cycle(payoff > 0.5, index[top])
    agree = top in nash_best and len(nash_best) == 1 and alpha_best == top
    mix = ", ".join(f"{n} {rows[n]['nash_mass']:.2f}" for n in nash_best)
    if cycle is None:
        if agree:
            line = (
                f"Agree: {top} is first by Bradley–Terry, α-Rank and Nash averaging; the payoff "
                "table has no cycle, so one strength order describes this field."
            )
        else:
            line = (
                f"Close at the top: Bradley–Terry ranks {top} first, α-Rank {alpha_best}, and "
                f"the Nash mix is {mix}; the payoff table has no cycle, so the top entrants are "
                "too close to order (see the intervals)."
            )
        return {"agree": agree, "cycle": None, "significant": False, "line": line}
    loop = [names[i] for i in cycle]
    noise = "" if significant else " (within noise: not every edge is significant at 95%)"
    text = f"The payoff table has a cycle{noise}: {' beats '.join([*loop, loop[0]])}"
    if agree:
        line = (
            f"Agree on the top: {top} is first by Bradley–Terry, α-Rank and Nash averaging. "
            f"{text}, so no single strength order describes the rest of the field."
        )
        return {"agree": True, "cycle": loop, "significant": significant, "line": line}
    why = ""
    peers = [n for n in nash_best if n != top]
    outside = [n for n in names if n not in nash_best]
    if peers and outside and top in nash_best:
        # inside the equilibrium's support every member scores the same against the mix;
        # BT's preference comes from the entrants outside it
        rest = [index[n] for n in peers]
        gain = {z: payoff[index[top], index[z]] - payoff[rest, index[z]].mean() for z in outside}
        victim = max(outside, key=lambda z: gain[z])
        if gain[victim] > 0:
            others = ", ".join(f"{payoff[index[n], index[victim]]:.2f}" for n in peers)
            why = (
                f", mostly for beating {victim} ({payoff[index[top], index[victim]]:.2f}, "
                f"where {', '.join(peers)} score {others})"
            )
    alpha_mass = ", ".join(
        f"{n} {rows[n]['alpharank']:.2f}"
        for n in sorted(names, key=lambda n: -rows[n]["alpharank"])
        if rows[n]["alpharank"] >= 0.05
    )
    line = (
        f"Disagree: {text}, which no single strength order represents. Bradley–Terry and Elo "
        f"rank by mean score against this field and put {top} first{why}. Nash averaging "
        f"mixes {mix} and rates {', '.join(nash_best)} equal (0.00 against that mix); α-Rank "
        f"spreads its mass over {alpha_mass}. Here the BT order depends on who else is in "
        "the field: quote Nash averaging or α-Rank."
    )
    return {"agree": False, "cycle": loop, "significant": significant, "line": line}
