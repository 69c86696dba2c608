#!/usr/bin/env python
"""Load test of `simkit serve` on loopback while `simkit rebuild` publishes new versions. Prints JSON.

    python scripts/bench_serve.py [--index indexes/demo] [--sources examples/reports] [--concurrency 8]
                                  [--duration 60] [--rebuilds 2] [--keep 1] [--workers 1]

The index is copied to a temporary directory and served by `python -m simkit serve` on a free loopback
port. --concurrency clients (threads, one httpx connection each) send requests back to back for
--duration seconds: a mix of searches (GET and POST, hybrid and dense, with a filter), similar, show
and recommend. Meanwhile --rebuilds `simkit rebuild SOURCES --force --keep K` runs publish new versions,
spread over the run (the run is extended until the last has published and been answered from).

Reported: requests, failed requests (any status but 200, or no answer), throughput, latency percentiles
(all requests and per endpoint), the rebuilds (version published, versions pruned, seconds), the versions
the answers named, and the checks: every answer names a version that was published (its directory seen
in ``versions/``) before the answer arrived and not removed before the request was sent. A thread looks at
``CURRENT`` and ``versions/`` every 20 ms to time that.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
POLL = 0.02  # seconds between two looks at CURRENT and versions/
VERSION_HEADER = "Simkit-Version"
QUERIES = [
    "在乡镇推行一支队伍管执法的综合执法改革",
    "推行行政执法公示制度，公开执法信息",
    "重大行政决策合法性审查和公众参与",
    "建设公共法律服务体系，提供法律咨询",
    "行政复议体制改革，集中受理审理案件",
    "规范性文件备案审查和清理",
    "推进政务服务一网通办，压缩企业开办时间",
    "开展八五普法，学习宣传习近平法治思想",
    "bundle related services so people apply once at one window",
    "publish enforcement decisions online for public supervision",
    "mediate disputes at the grassroots before they escalate",
    "train enforcement officers and certify their qualifications",
]


@dataclass
class Answer:
    """One request: when it was sent and answered (seconds since the start), what, and what came back."""

    endpoint: str
    start: float
    end: float
    status: int  # 0: no answer (connection error, timeout)
    version: str | None
    error: str | None = None


@dataclass
class Timeline:
    """When each version's directory was first and last seen, and when CURRENT first named it."""

    first_seen: dict[str, float] = field(default_factory=dict)
    gone: dict[str, float] = field(default_factory=dict)
    current_since: dict[str, float] = field(default_factory=dict)

    def look(self, root: Path, now: float) -> None:
        try:
            names = {p.name for p in (root / "versions").iterdir() if p.is_dir() and not p.name.startswith(".")}
        except OSError:
            return
        for name in names:
            self.first_seen.setdefault(name, now)
        for name in self.first_seen:
            if name not in names:
                self.gone.setdefault(name, now)
        try:
            current = (root / "CURRENT").read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return
        self.current_since.setdefault(current, now)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, nearest rank; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {"requests": len(ms), **{f"p{q}": None if (v := percentile(ms, q)) is None else round(v, 1)
                                    for q in (50, 95, 99)},
            "max": round(max(ms), 1) if ms else None}


def version_checks(answers: list[Answer], timeline: Timeline, slack: float = POLL * 2) -> dict[str, Any]:
    """Whether every successful answer names a version that existed when it was computed.

    ``unknown``: a version whose directory was never seen; ``before_published``: answered before its
    directory appeared (``slack`` covers the 20 ms between two looks); ``after_removed``: a request sent
    after its version's directory was seen gone.
    """
    unknown = before = after = 0
    for answer in answers:
        if answer.status != 200:
            continue
        version = answer.version
        if version is None or version not in timeline.first_seen:
            unknown += 1
            continue
        if answer.end + slack < timeline.first_seen[version]:
            before += 1
        gone = timeline.gone.get(version)
        if gone is not None and answer.start > gone:
            after += 1
    return {"unknown_version": unknown, "before_published": before, "after_removed": after,
            "ok": unknown == before == after == 0}


def summary(answers: list[Answer], seconds: float) -> dict[str, Any]:
    failed = [a for a in answers if a.status != 200]
    by_endpoint: dict[str, list[float]] = {}
    for a in answers:
        by_endpoint.setdefault(a.endpoint, []).append(a.end - a.start)
    versions: dict[str, int] = {}
    for a in answers:
        if a.version:
            versions[a.version] = versions.get(a.version, 0) + 1
    return {
        "requests": len(answers), "failed": len(failed),
        "failures": [f"{a.endpoint}: {a.status} {a.error}" for a in failed[:5]],
        "throughput_rps": round(len(answers) / seconds, 2) if seconds else None,
        "latency_ms": latency_summary([a.end - a.start for a in answers]),
        "by_endpoint": {name: latency_summary(values) for name, values in sorted(by_endpoint.items())},
        "versions_answered": dict(sorted(versions.items())),
    }


# --------------------------------------------------------------------------- the run


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"simkit serve exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"simkit serve was not ready within {timeout} s")


def _requests(ids: list[str], regions: list[str], seed: int) -> Any:
    """An endless, seeded mix of requests: (endpoint name, method, path, params, JSON body)."""
    rng = random.Random(seed)
    while True:
        draw = rng.random()
        text = rng.choice(QUERIES)
        if draw < 0.6:
            yield "GET /search", "GET", "/search", {"text": text, "k": 5}, None
        elif draw < 0.7:
            yield "POST /search", "POST", "/search", None, {"text": text, "k": 5, "mode": "dense",
                                                           "province": ["福建"]}
        elif draw < 0.8:
            yield "GET /similar", "GET", f"/similar/{rng.choice(ids)}", {"k": 5}, None
        elif draw < 0.9:
            yield "GET /paragraphs", "GET", f"/paragraphs/{rng.choice(ids)}", None, None
        else:
            yield "GET /recommendations", "GET", f"/regions/{rng.choice(regions)}/recommendations", {"k": 5}, None


def _client_loop(url: str, ids: list[str], regions: list[str], seed: int, t0: float, stop: threading.Event,
                 out: list[Answer]) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=60) as client:
        for endpoint, method, path, params, body in _requests(ids, regions, seed):
            if stop.is_set():
                return
            start = time.perf_counter() - t0
            try:
                response = client.request(method, path, params=params, json=body)
                status, version = response.status_code, response.headers.get(VERSION_HEADER)
                error = None if status == 200 else response.text[:200]
            except httpx.HTTPError as exc:
                status, version, error = 0, None, repr(exc)[:200]
            out.append(Answer(endpoint, start, time.perf_counter() - t0, status, version, error))


def _rebuild(index: Path, sources: Path, keep: int, t0: float) -> dict[str, Any]:
    started = time.perf_counter() - t0
    done = subprocess.run([sys.executable, "-m", "simkit", "rebuild", str(sources), "--index", str(index),
                           "--force", "--keep", str(keep), "--json", "-q"], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    ended = time.perf_counter() - t0
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {}
    return {"exit_code": done.returncode, "status": report.get("status"), "version": report.get("version"),
            "pruned": report.get("pruned"), "started_s": round(started, 2), "seconds": round(ended - started, 2),
            "published_s": round(ended, 2), "error": report.get("error") or (done.stderr.strip()[-300:] or None)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=PROJECT / "indexes" / "demo",
                        help="index to copy and serve (the example index, `make demo`)")
    parser.add_argument("--sources", type=Path, default=PROJECT / "examples" / "reports",
                        help="report folder the rebuilds read")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (at least)")
    parser.add_argument("--rebuilds", type=int, default=2)
    parser.add_argument("--keep", type=int, default=1, help="the rebuilds' --keep: 1 prunes all it may")
    parser.add_argument("--workers", type=int, default=1, help="simkit serve --workers")
    parser.add_argument("--reload-interval", type=float, default=1.0)
    args = parser.parse_args(argv)

    import httpx

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    index = work / "index"
    shutil.copytree(args.index, index, ignore=shutil.ignore_patterns("rebuild.lock"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = work / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "simkit", "serve", "--index", str(index), "--port", str(port),
             "--workers", str(args.workers), "--reload-interval", str(args.reload_interval), "--no-access-log"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        loaded = time.perf_counter()
        _wait_ready(url, server)
        ready_s = time.perf_counter() - loaded
        found = httpx.get(f"{url}/search", params={"text": QUERIES[0], "k": 10, "hits": 3}, timeout=60).json()
        ids = [hit["paragraph_id"] for region in found["regions"] for hit in region["hits"]]
        regions = [region["region"] for region in found["regions"]]
        info = httpx.get(f"{url}/info", timeout=60).json()
        initial = sorted(p.name for p in (index / "versions").iterdir() if not p.name.startswith("."))

        t0 = time.perf_counter()
        stop = threading.Event()
        timeline = Timeline()
        answers: list[Answer] = []

        def watch() -> None:
            while not stop.is_set():
                timeline.look(index, time.perf_counter() - t0)
                time.sleep(POLL)

        threads = [threading.Thread(target=watch, daemon=True)]
        threads += [threading.Thread(target=_client_loop, args=(url, ids, regions, n, t0, stop, answers),
                                     daemon=True) for n in range(args.concurrency)]
        for thread in threads:
            thread.start()
        rebuilds = []
        for n in range(args.rebuilds):
            at = args.duration * (n + 1) / (args.rebuilds + 1)
            time.sleep(max(0.0, at - (time.perf_counter() - t0)))
            rebuilds.append(_rebuild(index, args.sources, args.keep, t0))
        published = [r["version"] for r in rebuilds if r["version"]]
        # Run on until the duration is over and the last published version has answered a few requests.
        while time.perf_counter() - t0 < args.duration or (
                published and sum(a.version == published[-1] for a in answers) < 10
                and time.perf_counter() - t0 < args.duration + 60):
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(90)
        seconds = max(a.end for a in answers) if answers else 0.0
        timeline.look(index, time.perf_counter() - t0)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    log_lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    result = {
        "machine": {"cpu_count": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "settings": {"concurrency": args.concurrency, "duration_s": args.duration, "workers": args.workers,
                     "rebuilds": args.rebuilds, "keep": args.keep, "reload_interval_s": args.reload_interval,
                     "index": {"documents": info["counts"]["documents"], "units": info["counts"]["units"]}},
        "ready_s": round(ready_s, 2),
        "seconds": round(seconds, 2),
        **summary(answers, seconds),
        "rebuilds": rebuilds,
        "versions": {"initial": initial,
                     "published_during_run": published,
                     "removed_during_run": sorted(timeline.gone)},
        "checks": version_checks(answers, timeline),
        "server": {"exit_code": server.returncode,
                   "error_lines": [line for line in log_lines if line.startswith(("ERROR", "Traceback"))][:5]},
    }
    result["checks"]["zero_failed"] = result["failed"] == 0
    result["checks"]["rebuilds_published"] = sum(r["status"] == "published" for r in rebuilds)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    ok = result["checks"]["ok"] and result["failed"] == 0 and result["checks"]["rebuilds_published"] == args.rebuilds
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
