"""Reading a running node's HTTP endpoints: /metrics as Prometheus parses it, /readyz."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.stack import NodeThread


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=15)


def samples(metrics_url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of /metrics as (name, labels, value), parsed as Prometheus does."""
    response = get(f"{metrics_url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def total(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of one metric's samples whose labels include ``labels``."""
    return sum(
        value
        for sample, found, value in samples(metrics_url)
        if sample == name and labels.items() <= found.items()
    )


def readiness(node: NodeThread) -> tuple[int, dict[str, Any]]:
    response = get(f"{node.metrics_url}/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body
