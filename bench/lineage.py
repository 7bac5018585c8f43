"""Lineage at scale: a generated dbt project of 5,000 models.

Prints JSON: the time to read the manifest and compute column-level lineage of every model
(target <= 60 s) and the median time of a downstream impact query from a root source
(target <= 10 ms). ``dbt parse`` of the generated project is timed separately (it is dbt's
cost, paid once per change, not ours).

    .venv/bin/python bench/lineage.py [--models 5000] [--workdir DIR] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.dbtkit import generate_project, run_dbt  # noqa: E402
from tidegauge.integrations.dbt import load_dbt_project  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=5000)
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--workdir", type=Path, default=None, help="reuse a generated project here")
    args = ap.parse_args()

    workdir = args.workdir or Path(tempfile.gettempdir()) / f"tidegauge-bench-{args.models}"
    manifest = workdir / "target" / "manifest.json"
    stamp = workdir / ".generated"
    parse_s: float | None = None
    if not (
        manifest.exists()
        and stamp.exists()
        and stamp.read_text() == f"{args.models}/{args.sources}"
    ):
        shutil.rmtree(workdir, ignore_errors=True)
        generate_project(workdir, models=args.models, sources=args.sources)
        t0 = time.perf_counter()
        run_dbt(workdir, "parse")
        parse_s = time.perf_counter() - t0
        stamp.write_text(f"{args.models}/{args.sources}")

    t0 = time.perf_counter()
    project = load_dbt_project(manifest)
    load_s = time.perf_counter() - t0
    graph = project.graph
    models = [n for n in graph.nodes if n.kind.value == "model"]
    with_columns = sum(1 for m in models if m.id not in project.lineage_errors)
    col_edges = sum(1 for _ in graph.column_edges)

    root = "source.scale.raw.src_000"
    graph.impact(root)  # build the adjacency index once (it is cached until the graph changes)

    def timed(fn: object, repeat: int) -> tuple[float, object]:
        samples = []
        out = None
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()  # type: ignore[operator]
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1000, out

    table_ms, impact = timed(lambda: graph.impact(root), args.repeat)
    column_ms, col_impact = timed(lambda: graph.impact(root, "amount"), args.repeat)
    down_ms, _ = timed(lambda: graph.downstream(root), args.repeat)
    result = {
        "models": len(models),
        "nodes": len(graph),
        "column_edges": col_edges,
        "models_with_column_lineage": with_columns,
        "dbt_parse_s": round(parse_s, 2) if parse_s is not None else "cached",
        "manifest_parse_and_column_lineage_s": round(load_s, 2),
        "target_manifest_s": 60,
        "impact_root_source_table_ms_median": round(table_ms, 3),
        "impact_root_source_column_ms_median": round(column_ms, 3),
        "downstream_root_source_ms_median": round(down_ms, 3),
        "target_impact_ms": 10,
        "impact_tables": len(impact.tables),  # type: ignore[attr-defined]
        "impact_columns": len(impact.columns),  # type: ignore[attr-defined]
        "impact_exposures": len(impact.exposures),  # type: ignore[attr-defined]
        "column_impact_columns": len(col_impact.columns),  # type: ignore[attr-defined]
        "repeat": args.repeat,
        "ok": load_s <= 60 and table_ms <= 10,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
