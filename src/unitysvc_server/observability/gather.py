"""``GET /metrics`` of a ``--workers N`` server: every worker's figures in one answer.

A scrape lands on whichever worker the kernel hands the connection to, and each worker
counts only what it served. So each worker also answers on a Unix socket in the
server's worker directory (:func:`unitysvc_server.workers.current_worker`), with its
registry's samples as JSON; the worker that takes the scrape asks every other one and
merges their samples with its own:

* counters, histograms and summaries are summed per series (their ``_created`` samples
  take the earliest), so ``unitysvc_requests_total`` counts the whole server's requests;
* gauges (and info or state sets) are kept per worker, labelled ``worker="<index>"``:
  a process's memory or start time, or the build, do not add up.

The hot path is unchanged: the counters stay in process memory, and are read only when
scraped. A worker that does not answer within :data:`ASK_TIMEOUT_SECONDS` fails the
scrape (:class:`WorkerSilent`, a 503) rather than serve totals that would look like a
counter reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from unitysvc_server.workers import Worker

__all__ = ["ASK_TIMEOUT_SECONDS", "WorkerMetrics", "WorkerSilent", "merge"]

#: How long a scrape waits for another worker's samples.
ASK_TIMEOUT_SECONDS = 5.0
#: Metric types whose samples add up across processes.
_SUMMED = frozenset({"counter", "histogram", "summary", "gaugehistogram"})
#: One family as sent between workers: name, help, type, unit, samples.
Family = dict[str, Any]


class WorkerSilent(RuntimeError):
    """Another worker did not send its samples (the scrape cannot be whole)."""


def snapshot(registry: CollectorRegistry) -> list[Family]:
    """The registry's families as plain data (samples without timestamps or exemplars)."""
    return [
        {
            "name": family.name,
            "documentation": family.documentation,
            "type": family.type,
            "unit": family.unit,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
        for family in registry.collect()
    ]


def merge(per_worker: dict[int, list[Family]]) -> list[Metric]:
    """Every worker's families as one server's (see the module docstring)."""
    merged: dict[str, Metric] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for index, families in sorted(per_worker.items()):
        for family in families:
            name, kind = family["name"], family["type"]
            metric = merged.get(name)
            if metric is None:
                metric = merged[name] = Metric(name, family["documentation"], kind, family["unit"])
                sums[name] = {}
            if kind not in _SUMMED:
                for sample, labels, value in family["samples"]:
                    metric.add_sample(sample, {**labels, "worker": str(index)}, value)
                continue
            series = sums[name]
            for sample, labels, value in family["samples"]:
                key = (sample, tuple(sorted(labels.items())))
                if key not in series:
                    series[key] = value
                elif sample.endswith("_created"):
                    series[key] = min(series[key], value)
                else:
                    series[key] += value
    for name, series in sums.items():
        metric = merged[name]
        for (sample, labels), value in series.items():
            metric.add_sample(sample, dict(labels), value)
    return list(merged.values())


class _Merged:
    """A collector of already merged families (what ``generate_latest`` renders)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class WorkerMetrics:
    """One worker's side of the gathering: answers its siblings, asks them when scraped.

    Args:
        worker: This worker (its index and the server's worker directory).
        registry: This worker's metrics.
    """

    def __init__(self, worker: Worker, registry: CollectorRegistry) -> None:
        self._worker = worker
        self._registry = registry
        self._server: asyncio.Server | None = None

    def _socket(self, index: int) -> Path:
        return self._worker.directory / f"metrics-{index}.sock"

    async def start(self) -> None:
        """Answer the other workers' scrapes on this worker's socket."""
        path = self._socket(self._worker.index)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = await asyncio.start_unix_server(self._answer, path=str(path))

    async def stop(self) -> None:
        """Stop answering (the socket file goes with the worker directory)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self._socket(self._worker.index).unlink()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(json.dumps(snapshot(self._registry)).encode())
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _ask(self, index: int) -> list[Family]:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self._socket(index)))
        except FileNotFoundError:
            # Not started yet (it has served nothing) or already stopping.
            return []
        try:
            data: list[Family] = json.loads(await reader.read())
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        return data

    async def render(self) -> bytes:
        """The whole server's metrics in the Prometheus text format.

        Raises:
            WorkerSilent: Another worker did not answer in time.
        """
        others = [i for i in range(self._worker.count) if i != self._worker.index]
        try:
            answers = await asyncio.wait_for(
                asyncio.gather(*(self._ask(i) for i in others)), ASK_TIMEOUT_SECONDS
            )
        except (TimeoutError, OSError, ValueError) as exc:
            raise WorkerSilent(f"a worker did not send its metrics: {exc!r}") from exc
        per_worker = dict(zip(others, answers, strict=True))
        per_worker[self._worker.index] = snapshot(self._registry)
        return generate_latest(_Merged(merge(per_worker)))
