"""The local worker pool lives for the whole run: its processes serve every call, and a worker
keeps its runner for the next call with the same runner (an audit's batches)."""

from __future__ import annotations

from pool_runners import Tagged

from testbed.rollout.executor import ProcessExecutor


def outcomes(executor, label: str, count: int = 6) -> list[tuple[int, str, int]]:
    return [r for _, r in executor.imap_tasks(Tagged, (label,), [(k,) for k in range(count)])]


def test_calls_share_the_workers_and_equal_calls_share_their_runners():
    executor = ProcessExecutor(2)
    try:
        first, again = outcomes(executor, "a"), outcomes(executor, "a")
        other = outcomes(executor, "b")
    finally:
        executor.close()
    assert sorted(task for _, _, task in first) == list(range(6))
    pids = {pid for pid, _, _ in first}
    assert len(pids) == 2 and {pid for pid, _, _ in again} <= pids  # no new process
    assert {tag for _, tag, _ in again} <= {tag for _, tag, _ in first}  # runners kept
    assert {pid for pid, _, _ in other} <= pids
    assert not {tag for _, tag, _ in other} & {tag for _, tag, _ in first}  # rebuilt
