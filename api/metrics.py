"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _JobCollector(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("archgen_jobs", "Jobs in the database by status", labels=["status"])
        try:
            for status, n in self._counts().items():
                g.add_metric([status], n)
        except Exception:
            pass
        yield g


class ServiceMetrics:
    """Request counts and latencies, predictions served, jobs by status.

    Args:
        job_counts: Returns ``{status: count}`` (read at scrape time).
    """

    def __init__(self, job_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "archgen_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "archgen_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "archgen_predictions", "Architectures predicted", ["space", "task"], registry=self.registry
        )
        self.predict_seconds = Histogram(
            "archgen_predict_compute_seconds",
            "Time spent computing predictions per request (parsing to response body)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.jobs_submitted = Counter("archgen_jobs_submitted", "Jobs queued", ["kind"], registry=self.registry)
        self.registry.register(_JobCollector(job_counts))
