"""Four rooms' exact model, for planning and exact checks: the transition and reward arrays
of `testbed/four_rooms_v0` (value iteration, policy evaluation) and each cell's number of
moves to the goal (a shaping potential)."""

from __future__ import annotations

from collections import deque
from functools import cache

import numpy as np

from testbed.envs.four_rooms import CELL, FREE, MOVES, WALLS


def transition_model(goal: int, slip: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """P[s, a, s'] and R[s, a, s'] over free cells: the action is replaced by a uniform one
    with probability `slip`, a move into a wall stays put, reaching `goal` pays 1 and ends the
    episode (no transitions out of it)."""
    n = len(FREE)
    P = np.zeros((n, len(MOVES), n))
    for s in range(n):
        if s == goal:
            continue
        for a in range(len(MOVES)):
            for b in range(len(MOVES)):
                p = (1 - slip) * (a == b) + slip / len(MOVES)
                row, col = FREE[s] + MOVES[b]
                P[s, a, s if WALLS[row, col] else int(CELL[row, col])] += p
    R = np.zeros_like(P)
    R[:, :, goal] = 1.0
    return P, R


def value_iteration(P: np.ndarray, R: np.ndarray, gamma: float, tol: float = 1e-13) -> np.ndarray:
    """Q*[s, a] of the model (P, R) at discount `gamma`."""
    Q = np.zeros(P.shape[:2])
    for _ in range(100_000):
        new = np.einsum("sat,sat->sa", P, R + gamma * Q.max(axis=1)[None, None, :])
        if np.abs(new - Q).max() < tol:
            return new
        Q = new
    raise RuntimeError("value iteration did not converge")


def policy_value(P: np.ndarray, R: np.ndarray, gamma: float, policy: np.ndarray) -> np.ndarray:
    """V^pi[s] of a deterministic `policy` (an action per cell), by one linear solve."""
    rows = np.arange(P.shape[0])
    P_pi, R_pi = P[rows, policy], R[rows, policy]
    expected = (P_pi * R_pi).sum(axis=1)
    return np.linalg.solve(np.eye(len(rows)) - gamma * P_pi, expected)


@cache
def moves_to(goal: int) -> np.ndarray:
    """The fewest moves from each free cell to `goal` (breadth-first over the grid; cached,
    read-only)."""
    distance = np.full(len(FREE), -1, np.int64)
    distance[goal] = 0
    queue = deque([goal])
    while queue:
        cell = queue.popleft()
        for move in MOVES:
            row, col = FREE[cell] + move
            neighbour = int(CELL[row, col])
            if neighbour >= 0 and distance[neighbour] < 0:
                distance[neighbour] = distance[cell] + 1
                queue.append(neighbour)
    distance.setflags(write=False)
    return distance
