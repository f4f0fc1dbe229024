"""A node SIGKILLed during a sweep leaves no scoring process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from storage.ratings import SCORING_PROCESSES
from tests.support.waiting import eventually

# Starts the sweep's worker processes, prints their ids, then waits to be killed. The pool
# starts a worker only when none is idle, so the tasks are all given at once: tasks given one
# after another's result could be taken by one worker for ever.
NODE = """
import multiprocessing, time
from storage.ratings import SCORING_PROCESSES, scoring_processes
scorers = scoring_processes()
for task in [scorers.submit(time.sleep, 0.2) for _ in range(SCORING_PROCESSES)]:
    task.result()
print(*sorted(child.pid for child in multiprocessing.active_children()), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; it waits for its (new) parent to reap it.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_scorers_die_with_their_killed_node() -> None:
    with subprocess.Popen([sys.executable, "-c", NODE], stdout=subprocess.PIPE, text=True) as node:
        assert node.stdout is not None
        scorers = [int(pid) for pid in node.stdout.readline().split()]
        try:
            assert len(scorers) == SCORING_PROCESSES and all(alive(pid) for pid in scorers)
            node.send_signal(signal.SIGKILL)
            node.wait(10)
            eventually(
                lambda: not any(alive(pid) for pid in scorers), timeout=10, what="scorers gone"
            )
        finally:
            for pid in filter(alive, scorers):
                os.kill(pid, signal.SIGKILL)
