"""Benchmark the SNOMED CT index on a generated release the size of the real one.

Generates an RF2 Snapshot release (by default 370,000 concepts, about 600,000 active is-a rows with
polyhierarchy and 1.5 million descriptions) into a temporary folder, then measures: building the index,
opening it from the cache, `descendants_of` for a root with more than 100,000 descendants and for a
small subtree, and text search. In the same run it measures naive peers: a recursive CTE in DuckDB over
the is-a rows, a pure-Python walk over a dict of sets, and a pure-Python scan of every term.

    .venv/bin/python benchmarks/bench_terminology.py               # full size, writes results
    .venv/bin/python benchmarks/bench_terminology.py --concepts 20000   # a quick run

Results go to benchmarks/results/terminology.json and terminology.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
from stdnum import verhoeff

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codesetlib.terminology.snomedct import SnomedCT  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"index_s": 60.0, "open_s": 2.0, "descendants_ms": 50.0, "search_ms": 100.0}
MODULE = "900000000000207008"
IS_A = "116680003"
FINDING_SITE = "363698007"
# Top-level hierarchies and the share of concepts under each; Clinical finding holds the most.
BRANCHES = [
    ("Clinical finding", 0.40),
    ("Procedure", 0.20),
    ("Body structure", 0.10),
    ("Organism", 0.08),
    ("Substance", 0.07),
    ("Pharmaceutical / biologic product", 0.06),
    ("Observable entity", 0.04),
    ("Qualifier value", 0.03),
    ("Situation with explicit context", 0.02),
]
WORDS = [
    "acute",
    "chronic",
    "malignant",
    "benign",
    "neoplasm",
    "fracture",
    "femur",
    "tibia",
    "radius",
    "ulna",
    "humerus",
    "infection",
    "bacterial",
    "viral",
    "fungal",
    "disorder",
    "disease",
    "syndrome",
    "injury",
    "lesion",
    "ulcer",
    "carcinoma",
    "adenoma",
    "lymphoma",
    "diabetes",
    "mellitus",
    "hypertension",
    "asthma",
    "bronchitis",
    "pneumonia",
    "cardiac",
    "renal",
    "hepatic",
    "pulmonary",
    "gastric",
    "colonic",
    "rectal",
    "breast",
    "prostate",
    "ovarian",
    "cervical",
    "skin",
    "bone",
    "joint",
    "muscle",
    "nerve",
    "spinal",
    "cerebral",
    "vascular",
    "arterial",
    "venous",
    "congenital",
    "hereditary",
    "primary",
    "secondary",
    "recurrent",
    "left",
    "right",
    "bilateral",
    "upper",
    "lower",
    "closed",
    "open",
    "displaced",
    "complete",
    "partial",
    "severe",
    "mild",
    "moderate",
]


def sctid(item: int, partition: str) -> str:
    """A valid SNOMED CT identifier for item number `item` in the core namespace."""
    base = f"{item}{partition}"
    return base + verhoeff.calc_check_digit(base)


def generate(folder: Path, concepts: int, seed: int = 20240401) -> dict[str, object]:
    """Write a release folder with `concepts` concepts; return the codes worth querying."""
    rng = np.random.default_rng(seed)
    date = "20240401"
    codes = ["138875005"] + [sctid(1000000 + i, "00") for i in range(1, concepts)]
    top = list(range(1, len(BRANCHES) + 1))
    shares = np.array([share for _, share in BRANCHES])
    branch = rng.choice(len(BRANCHES), size=concepts, p=shares / shares.sum())
    parents: list[list[int]] = [[] for _ in range(concepts)]
    for b, first in enumerate(top):
        parents[first] = [0]
        members = np.array([first, *[i for i in np.flatnonzero(branch == b) if i > len(BRANCHES)]])
        # A random recursive tree per branch: each concept's parent is an earlier member, which
        # keeps the graph acyclic; about two thirds get a second earlier parent (polyhierarchy).
        for k in range(1, len(members)):
            primary = members[int(rng.random() * k)]
            parents[members[k]].append(int(primary))
            if rng.random() < 0.66:
                other = members[int(rng.random() * k)]
                if other != primary:
                    parents[members[k]].append(int(other))
    inactive = set(rng.choice(np.arange(len(BRANCHES) + 1, concepts), size=concepts // 40).tolist())
    terms = [" ".join(rng.choice(WORDS, size=rng.integers(2, 5))) for _ in range(concepts)]
    terms[0] = "SNOMED CT Concept"
    for (name, _), first in zip(BRANCHES, top, strict=True):
        terms[first] = name
    _write_files(folder, date, codes, parents, inactive, terms, rng)
    big = top[0]
    # A small subtree: a concept from the last four fifths of Clinical finding that has children.
    has_children = {p for ps in parents for p in ps}
    small = next(
        i
        for i in np.flatnonzero(branch == 0)
        if i > concepts // 5 and i in has_children and i not in inactive
    )
    return {"large_root": codes[big], "small_root": codes[int(small)], "search": "fracture femur"}


def _write_files(folder, date, codes, parents, inactive, terms, rng) -> None:
    terminology = folder / "Snapshot" / "Terminology"
    refset = folder / "Snapshot" / "Refset" / "Language"
    history = folder / "Snapshot" / "Refset" / "Content"
    for path in (terminology, refset, history):
        path.mkdir(parents=True, exist_ok=True)
    concept_rows, description_rows, language_rows, relationship_rows, history_rows = (
        [],
        [],
        [],
        [],
        [],
    )
    relationship = description = 0
    for i, code in enumerate(codes):
        active = "0" if i in inactive else "1"
        concept_rows.append(f"{code}\t{date}\t{active}\t{MODULE}\t900000000000074008")
        names = [(f"{terms[i]} (disorder)", "900000000000003001"), (terms[i], "900000000000013009")]
        names += [
            (" ".join(rng.choice(WORDS, size=3)), "900000000000013009") for _ in range(2)
        ]  # synonyms
        for n, (term, type_id) in enumerate(names):
            description += 1
            description_id = sctid(description, "01")
            description_rows.append(
                f"{description_id}\t{date}\t1\t{MODULE}\t{code}\ten\t{type_id}\t{term}\t"
                "900000000000448009"
            )
            acceptability = "900000000000548007" if n < 2 else "900000000000549004"
            language_rows.append(
                f"{description:08x}-0000-0000-0000-000000000000\t{date}\t1\t{MODULE}\t"
                f"900000000000508004\t{description_id}\t{acceptability}"
            )
        for parent in parents[i]:
            relationship += 1
            relationship_rows.append(
                f"{sctid(relationship, '02')}\t{date}\t{active}\t{MODULE}\t{code}\t{codes[parent]}\t0\t"
                f"{IS_A}\t900000000000011006\t900000000000451002"
            )
        if i % 3 == 0 and i:
            relationship += 1
            relationship_rows.append(
                f"{sctid(relationship, '02')}\t{date}\t1\t{MODULE}\t{code}\t{codes[i // 2]}\t1\t"
                f"{FINDING_SITE}\t900000000000011006\t900000000000451002"
            )
        if i in inactive:
            history_rows.append(
                f"{i:08x}-0000-0000-0000-000000000001\t{date}\t1\t{MODULE}\t900000000000526001\t"
                f"{code}\t{codes[parents[i][0]]}"
            )
    files = {
        terminology / f"sct2_Concept_Snapshot_BENCH_{date}.txt": (
            "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId",
            concept_rows,
        ),
        terminology / f"sct2_Description_Snapshot-en_BENCH_{date}.txt": (
            "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\t"
            "caseSignificanceId",
            description_rows,
        ),
        terminology / f"sct2_Relationship_Snapshot_BENCH_{date}.txt": (
            "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\t"
            "typeId\tcharacteristicTypeId\tmodifierId",
            relationship_rows,
        ),
        refset / f"der2_cRefset_LanguageSnapshot-en_BENCH_{date}.txt": (
            "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId",
            language_rows,
        ),
        history / f"der2_cRefset_AssociationSnapshot_BENCH_{date}.txt": (
            "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\t"
            "targetComponentId",
            history_rows,
        ),
    }
    for path, (header, rows) in files.items():
        path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")


def timed(action: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """The median wall-clock seconds of `repeat` runs of `action`, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def recursive_cte(folder: Path) -> Callable[[str], int]:
    """The naive peer in SQL: a recursive CTE over the active is-a rows, loaded into DuckDB."""
    relationships = next((folder / "Snapshot" / "Terminology").glob("sct2_Relationship*"))
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE is_a AS SELECT sourceId AS child, destinationId AS parent FROM "
        f"read_csv('{relationships}', delim='\t', quote='', header=true, all_varchar=true) "
        f"WHERE active = '1' AND typeId = '{IS_A}'"
    )

    def descendants(code: str) -> int:
        query = (
            "WITH RECURSIVE below(code) AS (SELECT child FROM is_a WHERE parent = ? UNION "
            "SELECT is_a.child FROM is_a JOIN below ON is_a.parent = below.code) "
            "SELECT count(*) FROM below"
        )
        return db.execute(query, [code]).fetchone()[0]

    return descendants


def dict_walk(terminology: SnomedCT) -> Callable[[str], int]:
    """The naive peer in Python: the breadth-first walk over a dict of child sets the old loader used."""
    children: dict[str, set[str]] = {}
    for code in terminology.codes():
        children[code] = set(terminology.children(code))

    def descendants(code: str) -> int:
        seen: set[str] = set()
        queue = deque([code])
        while queue:
            for nxt in children[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return len(seen)

    return descendants


def term_scan(terminology: SnomedCT) -> Callable[[str], int]:
    """The naive search peer: every active term scanned in Python, as the old loader searched."""
    rows = terminology._db.execute(
        "SELECT c.code, d.term_lower FROM descriptions d JOIN concepts c ON c.idx = d.concept"
    ).fetchall()

    def search(text: str) -> int:
        words = text.lower().split()
        return len({code for code, term in rows if all(w in term for w in words)})

    return search


def run(concepts: int, workdir: Path) -> dict[str, object]:
    """Generate, index and query one release; return every measurement."""
    os.environ["CODESET_CACHE_DIR"] = str(workdir / "cache")
    folder = workdir / "SnomedCT_BenchRF2_PRODUCTION_20240401T120000Z"
    generate_s, queries = timed(lambda: generate(folder, concepts))
    index_s, terminology = timed(lambda: SnomedCT(folder))
    open_s, terminology = timed(lambda: SnomedCT(folder), repeat=3)
    large, small, text = queries["large_root"], queries["small_root"], queries["search"]
    terminology.descendants_of(large)  # warm up
    large_s, large_found = timed(lambda: terminology.descendants_of(large), repeat=7)
    small_s, small_found = timed(lambda: terminology.descendants_of(small), repeat=7)
    terminology.search(text)
    search_s, search_found = timed(lambda: terminology.search(text), repeat=7)
    cte = recursive_cte(folder)
    cte_s, cte_count = timed(lambda: cte(large), repeat=3)
    walk = dict_walk(terminology)
    walk_s, walk_count = timed(lambda: walk(large), repeat=3)
    scan = term_scan(terminology)
    scan_s, scan_count = timed(lambda: scan(text), repeat=3)
    assert cte_count == walk_count == len(large_found), (cte_count, walk_count, len(large_found))
    assert scan_count >= len(search_found)
    return {
        "size": {
            "concepts": concepts,
            "active_is_a_rows": int(
                terminology._db.execute("SELECT count(*) FROM is_a").fetchone()[0]
            ),
            "descriptions": int(
                terminology._db.execute("SELECT count(*) FROM descriptions").fetchone()[0]
            ),
            "rf2_megabytes": round(sum(p.stat().st_size for p in folder.rglob("*.txt")) / 1e6, 1),
        },
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "duckdb": duckdb.__version__,
        },
        "generate_s": round(generate_s, 2),
        "index_s": round(index_s, 2),
        "open_s": round(open_s, 3),
        "descendants_large": {
            "code": large,
            "found": len(large_found),
            "ms": round(large_s * 1000, 2),
            "peer_recursive_cte_ms": round(cte_s * 1000, 1),
            "peer_dict_walk_ms": round(walk_s * 1000, 1),
            "ratio_cte": round(cte_s / large_s, 1),
            "ratio_dict_walk": round(walk_s / large_s, 1),
        },
        "descendants_small": {
            "code": small,
            "found": len(small_found),
            "ms": round(small_s * 1000, 3),
        },
        "search": {
            "text": text,
            "found": len(search_found),
            "ms": round(search_s * 1000, 2),
            "peer_python_scan_ms": round(scan_s * 1000, 1),
            "ratio": round(scan_s / search_s, 1),
        },
        "targets": TARGETS,
    }


def summary(results: dict) -> str:
    """A short Markdown report of one run."""
    size, large, small, search = (
        results["size"],
        results["descendants_large"],
        results["descendants_small"],
        results["search"],
    )
    return "\n".join(
        [
            "# Terminology index benchmark",
            "",
            f"Generated SNOMED CT release: {size['concepts']:,} concepts, {size['active_is_a_rows']:,} "
            f"active is-a rows, {size['descriptions']:,} active descriptions ({size['rf2_megabytes']} MB "
            f"of RF2). Machine: {results['machine']['cores']} cores, Python "
            f"{results['machine']['python']}, DuckDB {results['machine']['duckdb']}.",
            "",
            "| Measure | Time | Target | Peer | Ratio |",
            "|---|---|---|---|---|",
            f"| Index build (once) | {results['index_s']} s | ≤ 60 s | | |",
            f"| Open from cache | {results['open_s']} s | ≤ 2 s | | |",
            f"| descendants_of, large root ({large['found']:,} found) | {large['ms']} ms | ≤ 50 ms | "
            f"recursive CTE in DuckDB {large['peer_recursive_cte_ms']} ms; Python dict walk "
            f"{large['peer_dict_walk_ms']} ms | {large['ratio_cte']}×; {large['ratio_dict_walk']}× |",
            f"| descendants_of, small subtree ({small['found']:,} found) | {small['ms']} ms | ≤ 50 ms "
            "| | |",
            f"| search '{search['text']}' ({search['found']:,} found) | {search['ms']} ms | ≤ 100 ms | "
            f"Python scan of every term {search['peer_python_scan_ms']} ms | {search['ratio']}× |",
            "",
            "Ratio = peer time / index time, measured in the same run. Run with "
            "`.venv/bin/python benchmarks/bench_terminology.py`.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concepts", type=int, default=370_000, help="concepts to generate")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="folder for terminology.json and .md"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-terminology-") as workdir:
        results = run(args.concepts, Path(workdir))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "terminology.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.output / "terminology.md").write_text(summary(results))
    print(summary(results))


if __name__ == "__main__":
    main()
