"""Read dbt artefacts into a lineage graph, test results and run events.

``manifest.json`` (schema v4–v12, i.e. dbt-core 1.0 onward) gives models, sources, seeds,
snapshots, exposures, tests, owners and tags; ``catalog.json``, ``run_results.json`` and
``sources.json`` are read from beside it when present. Column lineage comes from each model's
compiled SQL, qualified against what is known of its parents' columns (catalog, then the
parents' own lineage output, then declared columns), walking models in dependency order so
lineage stitches across models.

The manifest's nodes, owners and tests are read in :mod:`~tidegauge.integrations.dbt_nodes`,
column lineage from the SQL in :mod:`~tidegauge.integrations.dbt_column_lineage` and the
sibling artefacts in :mod:`~tidegauge.integrations.dbt_artifacts`; this module puts them
together (:func:`load_dbt_project`).

A manifest that is not valid JSON or lacks what dbt always writes raises
:class:`DbtArtifactError` naming the file and the problem; nothing partial is returned.

Across schema versions the reader relies only on what every version from v4 writes: ``nodes``
(``sources``, ``exposures`` and the later ``metrics``, ``groups``, ``semantic_models``,
``saved_queries``, ``unit_tests`` may be absent; unknown keys are ignored), ``depends_on`` for
table lineage, and the SQL under either spelling (``raw_sql``/``compiled_sql`` up to dbt-core
1.2, ``raw_code``/``compiled_code`` from 1.3). The compiled SQL is parsed in the sqlglot dialect
of ``metadata.adapter_type``, so column lineage needs no warehouse connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tidegauge.core.lineage import LineageGraph
from tidegauge.integrations.dbt_artifacts import (
    DbtArtifactError,
    DbtRunEvent,
    DbtTest,
    DbtTestResult,
    SourceFreshness,
    parse_time,
    read_artifact,
    read_run_results,
    read_sources_json,
    schema_version_of,
)
from tidegauge.integrations.dbt_column_lineage import GraphBuilder
from tidegauge.integrations.dbt_nodes import ColumnResolver, dialect_of

__all__ = [
    "SUPPORTED_MANIFEST_VERSIONS",
    "ColumnResolver",
    "DbtArtifactError",
    "DbtProject",
    "DbtRunEvent",
    "DbtTest",
    "DbtTestResult",
    "SourceFreshness",
    "dialect_of",
    "graph_from_manifest",
    "load_dbt_project",
    "read_artifact",
]

SUPPORTED_MANIFEST_VERSIONS = tuple(range(4, 13))
# the dbt-core releases that wrote the schemas tidegauge no longer reads, for the error message
_OLD_MANIFESTS = {1: "0.19", 2: "0.20", 3: "0.21"}


@dataclass(slots=True)
class DbtProject:
    """Everything read from one set of dbt artefacts."""

    manifest_path: Path
    schema_version: int
    dbt_version: str
    project_name: str
    adapter_type: str
    generated_at: datetime | None
    graph: LineageGraph
    tests: tuple[DbtTest, ...] = ()
    test_results: tuple[DbtTestResult, ...] = ()
    run_events: tuple[DbtRunEvent, ...] = ()
    source_freshness: tuple[SourceFreshness, ...] = ()
    lineage_errors: dict[str, str] = field(default_factory=dict)
    artefacts: tuple[str, ...] = ()  # which files were read

    @property
    def failed_tests(self) -> tuple[DbtTestResult, ...]:
        return tuple(r for r in self.test_results if r.failed)


# ------------------------------------------------------------------------------ the manifest


def load_dbt_project(
    manifest_path: Path | str,
    *,
    column_level: bool = True,
    read_siblings: bool = True,
    resolve_columns: ColumnResolver | None = None,
) -> DbtProject:
    """Read ``manifest.json`` and, when beside it, catalog, run results and source freshness.

    ``resolve_columns`` is asked for the columns of seeds and sources the catalog does not
    cover (see :class:`~tidegauge.integrations.dbt_columns.StarColumns`), so that models
    selecting ``*`` from them get complete column lists.

    Raises :class:`DbtArtifactError` for a missing, malformed, truncated or unsupported
    manifest (or a malformed sibling artefact); never returns a partial graph.
    """
    path = Path(manifest_path)
    manifest = read_artifact(path)
    version = schema_version_of(path, manifest, "manifest")
    if version < SUPPORTED_MANIFEST_VERSIONS[0]:
        raise DbtArtifactError(
            path,
            f"manifest schema v{version} was written by dbt-core "
            f"{_OLD_MANIFESTS.get(version, '< 1.0')}; tidegauge reads manifests from "
            "dbt-core 1.0 on (schema v4–v12): regenerate it with dbt-core >= 1.0 "
            "(`dbt parse` is enough)",
        )
    # a schema newer than v12 is read all the same: every version so far only added keys
    if not isinstance(manifest.get("nodes"), dict):
        raise DbtArtifactError(path, "'nodes' is missing or not an object")
    for key in ("sources", "exposures"):  # optional: absent in trimmed or partial manifests
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise DbtArtifactError(path, f"'{key}' is not an object")
    meta = manifest["metadata"]
    artefacts = ["manifest.json"]

    catalog: dict[str, Any] | None = None
    run_results: dict[str, Any] | None = None
    sources_json: dict[str, Any] | None = None
    if read_siblings:
        folder = path.parent
        if (folder / "catalog.json").exists():
            catalog = read_artifact(folder / "catalog.json")
            schema_version_of(folder / "catalog.json", catalog, "catalog")
            artefacts.append("catalog.json")
        if (folder / "run_results.json").exists():
            run_results = read_artifact(folder / "run_results.json")
            schema_version_of(folder / "run_results.json", run_results, "run-results")
            artefacts.append("run_results.json")
        if (folder / "sources.json").exists():
            sources_json = read_artifact(folder / "sources.json")
            schema_version_of(folder / "sources.json", sources_json, "sources")
            artefacts.append("sources.json")

    builder = GraphBuilder(path, manifest, catalog, resolve_columns)
    try:
        builder.build_nodes()
        if column_level:
            builder.build_column_lineage()
        tests = builder.tests()
    except (KeyError, TypeError, AttributeError) as exc:
        raise DbtArtifactError(path, f"unexpected manifest structure: {exc!r}") from exc

    test_results: list[DbtTestResult] = []
    run_events: list[DbtRunEvent] = []
    if run_results is not None:
        test_results, run_events = read_run_results(
            path.parent / "run_results.json",
            run_results,
            builder.table_of,
            {t.unique_id: t for t in tests},
        )
    freshness = (
        read_sources_json(path.parent / "sources.json", sources_json, builder.table_of)
        if sources_json is not None
        else []
    )
    return DbtProject(
        manifest_path=path,
        schema_version=version,
        dbt_version=str(meta.get("dbt_version") or ""),
        project_name=str(meta.get("project_name") or ""),
        adapter_type=str(meta.get("adapter_type") or ""),
        generated_at=parse_time(meta.get("generated_at")),
        graph=builder.graph,
        tests=tuple(tests),
        test_results=tuple(test_results),
        run_events=tuple(run_events),
        source_freshness=tuple(freshness),
        lineage_errors=dict(builder.lineage_errors),
        artefacts=tuple(artefacts),
    )


def graph_from_manifest(manifest_path: Path | str) -> LineageGraph:
    """Just the lineage graph (what ``tidegauge lineage --manifest`` uses)."""
    return load_dbt_project(manifest_path).graph
