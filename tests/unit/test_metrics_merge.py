"""The supervisor's one exposition of several node processes' metrics (app/supervisor.py)."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.supervisor import merged_exposition
from observability.metrics import Metrics


def exposition_of(node_id: str, handled: int) -> str:
    metrics = Metrics(node_id)
    metrics.updates.labels(node_id, "text").inc(handled)
    metrics.handler_seconds.labels(node_id).observe(0.02)
    return generate_latest(metrics.registry).decode()


def test_each_family_once_with_every_process_samples() -> None:
    """Two processes' expositions become one in which each family is declared once and
    holds the samples of both, counters and histograms alike."""
    text = merged_exposition([exposition_of("n-1", 3), exposition_of("n-2", 5)]).decode()
    type_lines = [line for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(type_lines) == len(set(type_lines))
    families = {family.name: family for family in text_string_to_metric_families(text)}
    handled = {
        sample.labels["node_id"]: sample.value
        for sample in families["bot_updates_handled"].samples
        if sample.name == "bot_updates_handled_total"
    }
    assert handled == {"n-1": 3.0, "n-2": 5.0}
    counts = {
        sample.labels["node_id"]: sample.value
        for sample in families["bot_handler_seconds"].samples
        if sample.name == "bot_handler_seconds_count"
    }
    assert counts == {"n-1": 1.0, "n-2": 1.0}
