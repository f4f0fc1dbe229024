"""Updates per second with 1, 2 and 3 nodes, and the time from a node's SIGKILL until its
users are served again, on this machine.

    .venv/bin/python -m bench.cluster --pairs 100

Each figure is one run on fresh services (a database, a Redis namespace, a RabbitMQ vhost, an
S3 endpoint), with the sandbox and every node as processes of their own, in polling mode.
Virtual users come in pairs (tests/cluster/harness.py): each person onboards (12 updates),
opens the feed and likes the other (2), opens the chat (1) and writes three messages — 18
updates a person, each sent once the previous one was answered, all persons at once. Telegram's
limits are lifted (the sandbox's flood control is off, the nodes may send 10 000/s) so that the
figure is the cluster's own. The kill run starts three nodes, SIGKILLs one a third of the way
through and reports, for the users whose shards that node held, how long after the kill their
pending step was answered.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

from cluster.leases import ShardLeases
from storage import state
from tests.cluster.harness import Driver, NodeProcess, Run, sandbox_process, start_nodes
from tests.support.services import TEST_BOT_TOKEN, free_port, fresh_services

ROOT = Path(__file__).resolve().parent.parent
SHARDS = 16


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def settled(nodes: list[NodeProcess]) -> bool:
    """Every node owns its share (the start-up handovers are over before measuring)."""
    counts = [node.metric("bot_owned_shards") for node in nodes]
    return (
        None not in counts
        and sum(c or 0 for c in counts) == SHARDS
        and all((c or 0) >= SHARDS // len(nodes) for c in counts)
    )


def run_cluster(nodes: int, pairs: int, logs: Path, kill: bool = False) -> tuple[Run, list[float]]:
    """One run; the run and, with kill, the recovery time of each affected user."""
    logs.mkdir(parents=True, exist_ok=True)
    with fresh_services() as services:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        sandbox = sandbox_process(
            port, TEST_BOT_TOKEN, logs / "sandbox.log", global_rate=100000, chat_rate=100000
        )
        # The sandbox's flood control is on with limits nobody reaches: Telegram's limits are
        # not what is measured here.
        env = services.environ(
            TELEGRAM_API_URL=url,
            SHARDS=str(SHARDS),
            LOG_LEVEL="INFO",
            SEND_RATE_PER_SECOND="10000",
            SEND_RATE_PER_CHAT="1000",
        )
        running = start_nodes([f"node-{n}" for n in range(1, nodes + 1)], env, free_port, logs)
        client = state.connect(services.redis_url)
        try:
            wait_for(lambda: settled(running), 30, "shards settled")
            driver = Driver(url, pairs)
            runs: list[Run] = []
            drive = threading.Thread(target=lambda: runs.append(driver.run()))
            drive.start()
            recovery: list[float] = []
            if kill:
                wait_for(lambda: driver.progress >= 0.3, 120, "a third of the run")
                victim = running[1]
                leases = ShardLeases(client, state.Keys(services.redis_namespace), "bench")
                doomed = {
                    shard
                    for shard, member in leases.holders(SHARDS).items()
                    if member.startswith(victim.name + "~")
                }
                victim.process.kill()
                killed_at = time.time()
                drive.join()
                run = runs[0]
                # Steps the killed node's users had pending when it died: when were they
                # answered?
                recovery = [
                    step.reacted_at - killed_at
                    for step in run.steps
                    if step.user_id % SHARDS in doomed
                    and step.sent_at < killed_at < step.reacted_at
                ]
            drive.join()
            return runs[0], recovery
        finally:
            client.close()
            for node in running:
                if node.process.alive:
                    node.process.terminate()
            sandbox.terminate()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=100, help="pairs of virtual users")
    args = parser.parse_args()
    logs = ROOT / "bench" / "results" / "cluster"
    rows = []
    for nodes in (1, 2, 3):
        run, _ = run_cluster(nodes, args.pairs, logs / f"{nodes}-nodes")
        failed = len(run.failures)
        latencies = sorted(s.reacted_at - s.sent_at for s in run.steps)
        rows.append((nodes, run.updates, run.seconds, latencies, failed))
        print(f"{nodes} node(s): {run.updates / run.seconds:.0f} updates/s", file=sys.stderr)
    run, recovery = run_cluster(3, args.pairs, logs / "kill", kill=True)
    print(f"\n{2 * args.pairs} virtual users, 18 updates each, polling mode, {SHARDS} shards\n")
    print("| nodes | updates | seconds | updates/s | p50 ms | p99 ms | failed pairs |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for nodes, updates, seconds, latencies, failed in rows:
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        print(
            f"| {nodes} | {updates} | {seconds:.1f} | {updates / seconds:.0f} | {p50:.0f} "
            f"| {p99:.0f} | {failed} |"
        )
    if recovery:
        print(
            f"\nSIGKILL of one of 3 nodes: the {len(recovery)} steps its users had pending "
            f"were answered {statistics.median(recovery):.1f} s (median) and "
            f"{max(recovery):.1f} s (last) after the kill; "
            f"{run.updates / run.seconds:.0f} updates/s over that run, "
            f"{len(run.failures)} failed pairs"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
