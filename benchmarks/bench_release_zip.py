"""Benchmark a SNOMED CT release zip as a user meets it: found on CODESET_TERMINOLOGY_PATH, indexed from
the zip into an empty cache, opened again from the cache, and asked an ECL-shaped question.

Generates (with numpy and pyarrow, deterministic from a seed, into a temporary folder that is deleted
afterwards, never committed) an RF2 release zip the size of the International Edition: by default 370,000
concepts in nine top-level hierarchies with one to three parents each (random recursive trees, so the
depth is realistic, about 12 on average), three descriptions per concept with a language refset, is-a
and attribute relationships (a sixth of the rows inactive), historical associations for the inactive
tenth of the concepts, three simple refsets and a Full concept file. Then measures, each as a whole
process (`python -c ...`, wall time and peak resident memory from the kernel):

- a cold open: `open_release(<id>)` with an empty cache (finding the zip and indexing it);
- a warm open: the same with the cache built;
- `descendants_of(404684003)` minus `descendants_of(363346000)`, i.e. the ECL
  `<< 404684003 MINUS << 363346000`, in a warm process (its in-process time, median of repeats, is the
  number held to the target; the process's wall time is shown beside it);

beside floors measured in the same run: decompressing the zip's members the index reads (a process that
does only that), importing the package (a process that does only that) and the set difference of the two
already-computed sets.

    .venv/bin/python benchmarks/bench_release_zip.py                    # full size, writes results
    .venv/bin/python benchmarks/bench_release_zip.py --concepts 20000   # a quick run, no results

Results go to benchmarks/results/release_zip.json and release_zip.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv
from stdnum import verhoeff

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = {"cold_s": 60.0, "warm_s": 1.0, "query_ms": 100.0}
DATE, EARLIER = "20250401", "20020131"
MODULE = "900000000000207008"
IS_A = "116680003"
ROOT_CODE, FINDING, DISEASE, CANCER = "138875005", "404684003", "64572001", "363346000"
# Top-level hierarchies and their share of the concepts; Clinical finding holds the most.
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
ATTRIBUTE_TYPES = ["363698007", "116676008", "246075003", "363704007", "260686004"]
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
    "infection",
    "bacterial",
    "viral",
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
    "pneumonia",
    "cardiac",
    "renal",
    "hepatic",
    "pulmonary",
    "gastric",
    "colonic",
    "breast",
    "prostate",
    "skin",
    "bone",
    "joint",
    "muscle",
    "nerve",
    "spinal",
    "cerebral",
    "vascular",
    "congenital",
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
    "partial",
    "severe",
    "mild",
    "moderate",
    "structure",
    "procedure",
]
HEADERS = {
    "concept": ["id", "effectiveTime", "active", "moduleId", "definitionStatusId"],
    "description": [
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "conceptId",
        "languageCode",
        "typeId",
        "term",
        "caseSignificanceId",
    ],
    "relationship": [
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "sourceId",
        "destinationId",
        "relationshipGroup",
        "typeId",
        "characteristicTypeId",
        "modifierId",
    ],
    "language": [
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "refsetId",
        "referencedComponentId",
        "acceptabilityId",
    ],
    "association": [
        "id",
        "effectiveTime",
        "active",
        "moduleId",
        "refsetId",
        "referencedComponentId",
        "targetComponentId",
    ],
    "simple": ["id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId"],
}

# Verhoeff's tables (as python-stdnum has them), for check digits of whole arrays of identifiers at once.
_D = np.array(verhoeff._multiplication_table)
_P = np.array(verhoeff._permutation_table)
_INV = np.array([int(np.flatnonzero(row == 0)[0]) for row in _D])


def sctids(items: np.ndarray, partition: str) -> pa.Array:
    """Valid SCTIDs `<item><partition><check digit>` for an array of item numbers (all of one length)."""
    base = items.astype(np.int64) * 100 + int(partition)
    digits = len(str(int(base.max())))
    check = np.zeros(len(base), dtype=np.int64)
    rest = base.copy()
    for position in range(digits):  # from the rightmost digit; the check digit will sit at 0
        check = _D[check, _P[(position + 1) % 8, rest % 10]]
        rest //= 10
    return pa.array((base * 10 + _INV[check]).astype(str))


def _terms(rng: np.random.Generator, count: int) -> pa.Array:
    words = pa.array(WORDS)
    picks = [pc.take(words, rng.integers(0, len(WORDS), count)) for _ in range(3)]
    return pc.binary_join_element_wise(*picks, " ")


def _hierarchy(rng: np.random.Generator, concepts: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Is-a edges (child, parent) of random recursive trees, one per top-level hierarchy: each concept's
    parents are earlier members of its hierarchy, so the graph is acyclic; one to three parents."""
    top = np.arange(1, len(BRANCHES) + 1)
    shares = np.array([share for _, share in BRANCHES])
    branch = rng.choice(len(BRANCHES), size=concepts, p=shares / shares.sum())
    branch[: len(BRANCHES) + 1] = -1
    children, parents = [top], [np.zeros(len(BRANCHES), dtype=np.int64)]
    named: dict[str, int] = {}
    for b, head in enumerate(top):
        members = np.concatenate([[head], np.flatnonzero(branch == b)])
        k = np.arange(1, len(members))
        for share in (1.0, 0.45, 0.15):
            chosen = rng.random(len(k)) < share
            earlier = members[(rng.random(len(k)) * k).astype(np.int64)]
            children.append(members[1:][chosen])
            parents.append(earlier[chosen])
        if b == 0:
            # Disease is the first concept under Clinical finding, Malignant neoplastic disease the
            # twentieth (its subtree is about a twentieth of the hierarchy, as in the real release).
            named = {FINDING: int(head), DISEASE: int(members[1]), CANCER: int(members[20])}
    child, parent = np.concatenate(children), np.concatenate(parents)
    disease, cancer = named[DISEASE], named[CANCER]
    keep = ~np.isin(child, [disease, cancer])
    child = np.concatenate([child[keep], [disease, cancer]])
    parent = np.concatenate([parent[keep], [named[FINDING], disease]])
    pairs = np.unique(np.stack([child, parent], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1], named | {"branch": branch}


def _write(path: Path, kind: str, columns: dict[str, pa.Array]) -> None:
    table = pa.table({name: columns[name] for name in HEADERS[kind]})
    # RF2 is tab-separated with CRLF line endings and no quoting; the header is written as it is.
    options = arrow_csv.WriteOptions(
        delimiter="\t", quoting_style="none", include_header=False, eol="\r\n"
    )
    with path.open("wb") as handle:
        handle.write(("\t".join(HEADERS[kind]) + "\r\n").encode())
        arrow_csv.write_csv(table, handle, options)


def _constant(value: str, count: int) -> pa.Array:
    return pa.array(np.full(count, value))


def generate(target: Path, concepts: int, seed: int = 20250401) -> dict[str, int]:
    """Write the release zip at `target`; return the counts of what it holds."""
    rng = np.random.default_rng(seed)
    child, parent, named = _hierarchy(rng, concepts)
    codes = sctids(np.arange(10_000_000, 10_000_000 + concepts), "00").to_numpy(
        zero_copy_only=False
    )
    for code, index in [(ROOT_CODE, 0)] + [(k, v) for k, v in named.items() if k != "branch"]:
        codes[index] = code
    codes = codes.astype(object)
    inactive = np.zeros(concepts, dtype=bool)
    inactive[rng.choice(np.arange(30, concepts), size=concepts // 10, replace=False)] = True
    inactive[list(named[k] for k in (FINDING, DISEASE, CANCER))] = False
    # An inactive concept keeps no active is-a row; its children keep their other parents.
    live = ~inactive[child] & ~inactive[parent]
    child, parent = child[live], parent[live]
    orphans = np.setdiff1d(np.flatnonzero(~inactive)[1:], child)
    child, parent = (
        np.concatenate([child, orphans]),
        np.concatenate([parent, np.zeros_like(orphans)]),
    )
    work = Path(tempfile.mkdtemp(dir=target.parent))
    try:
        package = work / f"SnomedCT_InternationalRF2_PRODUCTION_{DATE}T120000Z"
        files = _write_release(package, rng, codes, inactive, child, parent, named["branch"])
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for path in sorted(package.rglob("*.txt")):
                archive.write(path, path.relative_to(work).as_posix())
    finally:
        shutil.rmtree(work)
    return files


def _write_release(package, rng, codes, inactive, child, parent, branch) -> dict[str, int]:
    concepts = len(codes)
    folders = {
        name: package / "Snapshot" / name
        for name in ("Terminology", "Refset/Language", "Refset/Content")
    }
    full = package / "Full" / "Terminology"
    for folder in [*folders.values(), full]:
        folder.mkdir(parents=True)
    code_array = pa.array(codes.tolist(), pa.string())
    active = pa.array(np.where(inactive, "0", "1"))
    _write(
        folders["Terminology"] / f"sct2_Concept_Snapshot_INT_{DATE}.txt",
        "concept",
        {
            "id": code_array,
            "effectiveTime": pa.array(np.where(inactive, DATE, EARLIER)),
            "active": active,
            "moduleId": _constant(MODULE, concepts),
            "definitionStatusId": _constant("900000000000074008", concepts),
        },
    )
    # Full: every concept's first version, and the inactivation of the inactive ones.
    gone = np.flatnonzero(inactive)
    _write(
        full / f"sct2_Concept_Full_INT_{DATE}.txt",
        "concept",
        {
            "id": pa.concat_arrays([code_array, pc.take(code_array, gone)]),
            "effectiveTime": pa.array([EARLIER] * concepts + [DATE] * len(gone)),
            "active": pa.array(["1"] * concepts + ["0"] * len(gone)),
            "moduleId": _constant(MODULE, concepts + len(gone)),
            "definitionStatusId": _constant("900000000000074008", concepts + len(gone)),
        },
    )
    # Descriptions: a fully specified name and two synonyms; the first synonym preferred in GB English.
    per = 3
    owner = np.repeat(np.arange(concepts), per)
    description_ids = sctids(np.arange(10_000_000, 10_000_000 + concepts * per), "01")
    terms = _terms(rng, concepts * per)
    fsn = np.tile([True, False, False], concepts)
    terms = pc.if_else(pa.array(fsn), pc.binary_join_element_wise(terms, "(disorder)", " "), terms)
    count = concepts * per
    _write(
        folders["Terminology"] / f"sct2_Description_Snapshot-en_INT_{DATE}.txt",
        "description",
        {
            "id": description_ids,
            "effectiveTime": _constant(EARLIER, count),
            "active": _constant("1", count),
            "moduleId": _constant(MODULE, count),
            "conceptId": pc.take(code_array, owner),
            "languageCode": _constant("en", count),
            "typeId": pa.array(np.where(fsn, "900000000000003001", "900000000000013009")),
            "term": terms,
            "caseSignificanceId": _constant("900000000000448009", count),
        },
    )
    acceptability = np.tile(
        ["900000000000548007", "900000000000548007", "900000000000549004"], concepts
    )
    _write(
        folders["Refset/Language"] / f"der2_cRefset_LanguageSnapshot-en_INT_{DATE}.txt",
        "language",
        {
            "id": pa.array([f"{i:08x}-0000-4000-8000-000000000001" for i in range(count)]),
            "effectiveTime": _constant(EARLIER, count),
            "active": _constant("1", count),
            "moduleId": _constant(MODULE, count),
            "refsetId": _constant("900000000000508004", count),
            "referencedComponentId": description_ids,
            "acceptabilityId": pa.array(acceptability),
        },
    )
    relationships = _relationships(rng, inactive, child, parent, branch)
    source, destination, kinds, group, row_active = relationships
    rows = len(source)
    _write(
        folders["Terminology"] / f"sct2_Relationship_Snapshot_INT_{DATE}.txt",
        "relationship",
        {
            "id": sctids(np.arange(10_000_000, 10_000_000 + rows), "02"),
            "effectiveTime": _constant(EARLIER, rows),
            "active": pa.array(np.where(row_active, "1", "0")),
            "moduleId": _constant(MODULE, rows),
            "sourceId": pc.take(code_array, source),
            "destinationId": pc.take(code_array, destination),
            "relationshipGroup": pa.array(group.astype(str)),
            "typeId": pa.array(kinds),
            "characteristicTypeId": _constant("900000000000011006", rows),
            "modifierId": _constant("900000000000451002", rows),
        },
    )
    live = np.flatnonzero(~inactive)
    targets = live[rng.integers(0, len(live), len(gone))]
    _write(
        folders["Refset/Content"] / f"der2_cRefset_AssociationSnapshot_INT_{DATE}.txt",
        "association",
        {
            "id": pa.array([f"{i:08x}-0000-4000-8000-000000000002" for i in range(len(gone))]),
            "effectiveTime": _constant(DATE, len(gone)),
            "active": _constant("1", len(gone)),
            "moduleId": _constant(MODULE, len(gone)),
            "refsetId": _constant("900000000000526001", len(gone)),
            "referencedComponentId": pc.take(code_array, gone),
            "targetComponentId": pc.take(code_array, targets),
        },
    )
    members = np.concatenate([rng.choice(live, 5000, replace=False) for _ in range(3)])
    refsets = sctids(np.array([99901, 99902, 99903]), "10").to_numpy(zero_copy_only=False)
    _write(
        folders["Refset/Content"] / f"der2_Refset_SimpleSnapshot_INT_{DATE}.txt",
        "simple",
        {
            "id": pa.array([f"{i:08x}-0000-4000-8000-000000000003" for i in range(len(members))]),
            "effectiveTime": _constant(DATE, len(members)),
            "active": _constant("1", len(members)),
            "moduleId": _constant(MODULE, len(members)),
            "refsetId": pa.array(np.repeat(refsets, 5000).tolist()),
            "referencedComponentId": pc.take(code_array, members),
        },
    )
    return {
        "concepts": concepts,
        "inactive_concepts": int(inactive.sum()),
        "descriptions": count,
        "relationship_rows": rows,
        "active_is_a": int(((kinds == IS_A) & row_active).sum()),
        "active_attributes": int(((kinds != IS_A) & row_active).sum()),
        "simple_refset_members": len(members),
    }


def _relationships(rng, inactive, child, parent, branch):
    """The is-a edges, attributes of findings and procedures (finding site, morphology…) to body
    structures and other concepts, and a sixth as many inactive rows as active ones."""
    concepts = len(inactive)
    holders = np.flatnonzero(np.isin(branch, [0, 1]) & ~inactive)
    structures = np.flatnonzero((branch == 2) & ~inactive)
    repeat = rng.integers(1, 4, len(holders))
    source = np.repeat(holders, repeat)
    destination = structures[rng.integers(0, len(structures), len(source))]
    kinds = np.array(ATTRIBUTE_TYPES)[rng.integers(0, len(ATTRIBUTE_TYPES), len(source))]
    group = rng.integers(0, 3, len(source))
    all_source = np.concatenate([child, source])
    all_destination = np.concatenate([parent, destination])
    all_kinds = np.concatenate([np.full(len(child), IS_A), kinds])
    all_group = np.concatenate([np.zeros(len(child), dtype=np.int64), group])
    stale = len(all_source) // 6
    old_source = rng.integers(1, concepts, stale)
    old_destination = rng.integers(1, concepts, stale)
    return (
        np.concatenate([all_source, old_source]),
        np.concatenate([all_destination, old_destination]),
        np.concatenate([all_kinds, np.full(stale, IS_A)]),
        np.concatenate([all_group, np.zeros(stale, dtype=np.int64)]),
        np.concatenate([np.ones(len(all_source), dtype=bool), np.zeros(stale, dtype=bool)]),
    )


# The processes measured -----------------------------------------------------------------------------

OPEN = """
import json, sys, time
from codesetlib.terminology import open_release
terminology = open_release(sys.argv[1])
print(json.dumps({"concepts": len(terminology.codes())}))
"""
QUERY = """
import json, statistics, sys, time
from codesetlib.terminology import open_release
terminology = open_release(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    found = terminology.descendants_of("404684003") - terminology.descendants_of("363346000")
    times.append(time.perf_counter() - start)
big, small = terminology.descendants_of("404684003"), terminology.descendants_of("363346000")
start = time.perf_counter()
for _ in range(20):
    big - small
floor = (time.perf_counter() - start) / 20
print(json.dumps({"found": len(found), "ms": statistics.median(times) * 1000,
                  "first_ms": times[0] * 1000, "big": len(big), "small": len(small),
                  "set_difference_ms": floor * 1000}))
"""
DECOMPRESS = """
import re, sys, zipfile
wanted = re.compile(r"(sct2_(Concept|Description|Relationship)_Snapshot|der2_cRefset_(Language|Association)Snapshot|der2_Refset_SimpleSnapshot|sct2_Concept_Full)")
with zipfile.ZipFile(sys.argv[1]) as archive:
    for info in archive.infolist():
        if wanted.search(info.filename):
            with archive.open(info) as member:
                while member.read(1 << 20):
                    pass
"""
IMPORT = "import codesetlib.terminology"


def process(code: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run `python -c code args` to its end: wall seconds, peak resident MB and what it printed."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    output, errors = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the measured process failed:\n{errors.decode()}")
    child.returncode = 0
    printed = json.loads(output) if output.strip() else {}
    return {"s": seconds, "peak_mb": usage.ru_maxrss / 1024, "printed": printed}


def run(concepts: int, workdir: Path, repeats: int) -> dict[str, object]:
    releases, cache = workdir / "releases", workdir / "cache"
    releases.mkdir()
    load_before = os.getloadavg()[0]
    archive = releases / f"SnomedCT_InternationalRF2_PRODUCTION_{DATE}T120000Z.zip"
    # Generated in a process of its own: a measured process started from a parent that holds the
    # generated release would report the parent's memory as its own peak.
    start = time.perf_counter()
    made = subprocess.run(
        [sys.executable, __file__, "--generate", str(archive), "--concepts", str(concepts)],
        check=True,
        capture_output=True,
        text=True,
    )
    counts = json.loads(made.stdout)
    generate_s = time.perf_counter() - start
    env = os.environ | {
        "CODESET_TERMINOLOGY_PATH": str(releases),
        "CODESET_CACHE_DIR": str(cache),
        "PYTHONPATH": str(ROOT),
    }
    release_id = f"snomedct-international-{DATE}"
    colds = []
    for _ in range(2):
        shutil.rmtree(cache, ignore_errors=True)
        colds.append(process(OPEN, [release_id], env))
    warms = [process(OPEN, [release_id], env) for _ in range(repeats)]
    query = process(QUERY, [release_id, "9"], env)
    decompress = [process(DECOMPRESS, [str(archive)], env) for _ in range(2)]
    imports = [process(IMPORT, [], env) for _ in range(repeats)]
    cache_mb = sum(p.stat().st_size for p in cache.iterdir()) / 1e6

    def summary(runs: list[dict]) -> dict[str, float]:
        times = [r["s"] for r in runs]
        return {
            "min_s": round(min(times), 3),
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "peak_mb": round(max(r["peak_mb"] for r in runs), 1),
        }

    printed = query["printed"]
    assert isinstance(printed, dict)
    return {
        "size": counts
        | {
            "zip_mb": round(archive.stat().st_size / 1e6, 1),
            "uncompressed_mb": round(
                sum(i.file_size for i in zipfile.ZipFile(archive).infolist()) / 1e6, 1
            ),
            "cache_mb": round(cache_mb, 1),
            "generate_s": round(generate_s, 1),
        },
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "duckdb": duckdb.__version__,
            "pyarrow": pa.__version__,
            # The machine is shared: its load (1-minute average) when the run began and ended.
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        },
        "cold_open": summary(colds),
        "warm_open": summary(warms),
        "query": {
            "ecl": "<< 404684003 MINUS << 363346000",
            "found": printed["found"],
            "descendants_404684003": printed["big"],
            "descendants_363346000": printed["small"],
            "ms": round(printed["ms"], 2),
            "first_ms": round(printed["first_ms"], 2),
            "process": summary([query]),
        },
        "floors": {
            "decompress_members": summary(decompress),
            "import_package": summary(imports),
            "set_difference_ms": round(printed["set_difference_ms"], 2),
        },
        "targets": TARGETS,
    }


def report(results: dict) -> str:
    """A short Markdown report of one run."""
    size, cold, warm, query, floors = (
        results["size"],
        results["cold_open"],
        results["warm_open"],
        results["query"],
        results["floors"],
    )
    machine = results["machine"]
    return "\n".join(
        [
            "# Release zip benchmark",
            "",
            f"Generated SNOMED CT International-sized release zip: {size['concepts']:,} concepts "
            f"({size['inactive_concepts']:,} inactive), {size['descriptions']:,} descriptions with a "
            f"language refset, {size['relationship_rows']:,} relationship rows ({size['active_is_a']:,} "
            f"active is-a, {size['active_attributes']:,} active attributes), "
            f"{size['simple_refset_members']:,} simple refset members and a Full concept file: "
            f"{size['zip_mb']} MB zipped, {size['uncompressed_mb']} MB of RF2; the index in the cache "
            f"is {size['cache_mb']} MB. Machine: {machine['cores']} cores (shared), Python "
            f"{machine['python']}, DuckDB {machine['duckdb']}, pyarrow {machine['pyarrow']}; load average "
            f"{machine['load_average'][0]} when the run began and {machine['load_average'][1]} when it "
            "ended (other work shared the two cores, so every time here is slower than on a machine of "
            "its own, the floors too).",
            "",
            "Each row is a whole process (`python -c`), wall time min / median / max and its peak "
            "resident memory.",
            "",
            "| Measure | Time | Peak memory | Target | Floor in the same run |",
            "|---|---|---|---|---|",
            f"| Cold open: find the zip, index it into an empty cache (2 runs) | "
            f"{cold['min_s']} / {cold['median_s']} / {cold['max_s']} s | {cold['peak_mb']} MB | "
            f"≤ 60 s | decompressing the members read: "
            f"{floors['decompress_members']['median_s']} s |",
            f"| Warm open: find the zip, open the cached index | {warm['min_s']} / "
            f"{warm['median_s']} / {warm['max_s']} s | {warm['peak_mb']} MB | ≤ 1 s | importing the "
            f"package: {floors['import_package']['median_s']} s |",
            f"| `{query['ecl']}` ({query['found']:,} found of "
            f"{query['descendants_404684003']:,}), in a warm process | {query['ms']} ms (first call "
            f"{query['first_ms']} ms); the whole process {query['process']['median_s']} s | "
            f"{query['process']['peak_mb']} MB | ≤ 100 ms | the set difference alone: "
            f"{floors['set_difference_ms']} ms |",
            "",
            "The query time is the median of 9 calls in one process that opened the release from the "
            "cache. Run with `.venv/bin/python benchmarks/bench_release_zip.py`.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concepts", type=int, default=370_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--generate", type=Path, help="only write the release zip at this path")
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(generate(args.generate, args.concepts)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-release-zip-") as folder:
        results = run(args.concepts, Path(folder), args.repeats)
    text = report(results)
    print(text)
    if args.concepts == 370_000:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "release_zip.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "release_zip.md").write_text(text)


if __name__ == "__main__":
    main()
