"""The distributed scan: ``jrc scan --ray ADDRESS|local`` on Ray Data (``pip install ".[distributed]"``).

The driver expands folders into paths (it never reads media) and feeds them to
``ray.data.from_items``. ``map_batches`` hands batches of paths to a pool of :class:`ScanWorker`
actors; each loads the :class:`~jrc.detector.Detector` once, runs :func:`jrc.scan.scan` on its
batch (decoding the media itself) and returns the same JSON records as the local scan. The driver
streams them to the output as they arrive, so its memory stays flat for millions of inputs.

Faults: a file that raises gets its error record on the worker, as locally. A worker process
that dies is restarted by Ray, and its batch retried once. A batch that kills its worker twice
is given up by Ray Data (``max_errored_blocks``); its inputs are then retried one per task, and
one that kills a worker twice more is recorded as ``error``, "worker died while processing".
Every input gets exactly one record: the driver writes each path once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ray

from jrc.media import kind_of
from jrc.report import record

WORKER_DIED = "worker died while processing (killed, out of memory or a native crash, twice)"


@dataclass(frozen=True)
class ScanOptions:
    """What each worker needs to build its detector and scan, as the local ``jrc scan`` does."""

    weights: str | None = None
    backend: str = "auto"
    tta: bool = False
    crops: bool = False
    reframe: bool = True
    frames: int = 32
    threads: int = 1
    cwd: str | None = field(default_factory=os.getcwd)  # the driver's folder: relative paths
    # (inputs, weights) resolve there on the workers of its machine


class ScanWorker:
    """A Ray Data callable class: one detector per actor; a batch of paths in, records out."""

    def __init__(self, options: ScanOptions) -> None:
        from jrc.artifacts import run_builders
        from jrc.detector import Detector

        self.options = options
        if options.cwd and Path(options.cwd).is_dir():  # this process only serves this scan
            os.chdir(options.cwd)
        run_builders(options.weights, options.backend, with_decoder=False)  # each node's own cache
        self.detector = Detector.from_pretrained(options.weights, backend=options.backend,
                                                 with_decoder=False, tta=options.tta,
                                                 threads=options.threads)

    def scan_paths(self, paths: list[Path]) -> list[dict]:
        from jrc.scan import scan

        o = self.options
        return list(scan(self.detector, paths, o.crops, o.frames, reframe=o.reframe))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [Path(str(p)) for p in batch["path"]]
        lines = [json.dumps(rec) for rec in self.scan_paths(paths)]
        return {"path": batch["path"], "line": np.array(lines, dtype=object)}


@dataclass
class Cluster:
    """How many actors and CPUs each; ``address``: ``local`` (a new Ray instance on this machine)
    or the address of a running cluster (``ray start --head``, KubeRay, ``ray up``)."""

    address: str = "local"
    workers: int | None = None  # None: as many as the cluster's CPUs allow
    cpus_per_worker: float = 1.0


class ClusterError(RuntimeError):
    """The cluster cannot be reached or cannot hold the requested workers."""


FAILURES = (ClusterError, ray.exceptions.RayError)  # what makes the distributed scan stop (exit 1)


def connect(cluster: Cluster) -> tuple[int, bool]:
    """Join or start Ray; returns (workers to run, whether this call started Ray)."""
    started = False
    if not ray.is_initialized():
        try:
            ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise ClusterError(f"--ray {cluster.address}: cannot connect ({e})") from None
        started = True
    cpus = float(ray.cluster_resources().get("CPU", 0))
    workers = cluster.workers or max(1, int(cpus // cluster.cpus_per_worker))
    if workers * cluster.cpus_per_worker > cpus:
        if started:
            ray.shutdown()
        raise ClusterError(f"--workers {workers} x --cpus-per-worker {cluster.cpus_per_worker:g} needs "
                           f"{workers * cluster.cpus_per_worker:g} CPUs; the cluster has {cpus:g}")
    return workers, started


def _map(paths: list[str], options: ScanOptions, workers: int, cpus: float, batch_size: int,
         worker_cls: type[ScanWorker]) -> Iterator[tuple[str, str]]:
    """(path, JSON line) as the actors finish; batches that failed twice are dropped, not raised."""
    ds = ray.data.from_items([{"path": p} for p in paths],
                             override_num_blocks=max(1, math.ceil(len(paths) / batch_size)))
    with warnings.catch_warnings():  # Ray 2.60 names no parameter for task retries; without
        warnings.simplefilter("ignore", DeprecationWarning)  # the limit a crashing input loops forever
        ds = ds.map_batches(worker_cls, fn_constructor_kwargs={"options": options}, batch_size=batch_size,
                            batch_format="numpy", concurrency=workers, num_cpus=cpus,
                            max_restarts=-1, max_task_retries=1)
    batches = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
    try:
        for batch in batches:
            yield from zip((str(p) for p in batch["path"]), (str(s) for s in batch["line"]), strict=True)
    finally:  # stopped early (Ctrl-C): end the execution so its actors free their CPUs
        if hasattr(batches, "close"):
            batches.close()


def scan_distributed(paths: list[Path], options: ScanOptions, cluster: Cluster,
                     write: Callable[[dict], None], batch_size: int | None = None,
                     worker_cls: type[ScanWorker] = ScanWorker,
                     problems: dict[Path, str] | None = None) -> None:
    """Scan ``paths`` on Ray; ``write`` gets each record once, in completion order.

    Paths are de-duplicated (each input is one record). Records of a batch whose worker died
    twice are retried one per task; what still fails gets the :data:`WORKER_DIED` error.
    ``batch_size``: inputs per task (default 16 crops or 2 files). ``worker_cls``: the actor
    class (tests pass one that crashes on purpose). ``problems``: paths known bad before reading
    (:attr:`jrc.scan.Inputs.problems`), recorded by the driver."""
    from ray.data import DataContext

    from jrc.weights import read_config, resolve

    todo = list(dict.fromkeys(str(p) for p in paths))
    if not todo:
        return
    threshold = float(read_config(resolve(options.weights))["threshold"])  # for error records
    for p, why in (problems or {}).items():
        if str(p) in todo:
            todo.remove(str(p))
            write(record(p, kind_of(p), threshold, error=why, tta=options.tta))
    if not todo:
        return
    workers, started = connect(cluster)
    ctx = DataContext.get_current()
    saved = ctx.max_errored_blocks, ctx.enable_progress_bars, ctx.print_on_execution_start
    ctx.max_errored_blocks, ctx.enable_progress_bars, ctx.print_on_execution_start = -1, False, False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    size = batch_size or (16 if options.crops else 2)
    written: set[str] = set()
    try:
        for attempt_size in (size, 1):  # then each input of a lost batch alone
            left = [p for p in todo if p not in written]
            if not left:
                break
            with closing(_map(left, options, workers, cluster.cpus_per_worker, attempt_size,
                              worker_cls)) as results:
                for path, line in results:
                    if path not in written:
                        written.add(path)
                        write(json.loads(line))
        for p in todo:
            if p not in written:
                write(record(p, kind_of(p), threshold, error=f"{p}: {WORKER_DIED}", tta=options.tta))
    finally:
        ctx.max_errored_blocks, ctx.enable_progress_bars, ctx.print_on_execution_start = saved
        if started:
            ray.shutdown()
