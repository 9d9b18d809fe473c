"""Keep third-party import-time notices off the user's terminal.

gymnasium-robotics 1.2.2 (needed by Safety-Gymnasium's multi-agent tasks) prints a notice about
its Adroit-hand envs, which testbed does not use, to stderr each time gymnasium loads its
plugins. The text comes from the `farama_notifications` table; dropping that one entry before
gymnasium is imported silences it and nothing else.
"""

from __future__ import annotations


def silence_adroit_notice() -> None:
    try:
        from farama_notifications import notifications
    except ImportError:
        return
    notifications.pop("gymnasium_robotics", None)
