"""The node's own endpoints (/healthz, /readyz, /metrics), its gauges and its logs."""
