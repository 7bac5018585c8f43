"""The public JSON shapes of alerts and incidents: the CLI's ``--json`` and the REST API
answer the same fields, from the rows of :class:`~tidegauge.store.alerts.AlertRepo`,
:class:`~tidegauge.store.incidents.IncidentRepo` or :mod:`tidegauge.store.browse`."""

from __future__ import annotations

from typing import Any


def alert_json(a: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an alert (CLI ``--json`` and the REST API): ``sentence`` is the
    plain explanation people read; ``metric`` and ``explanation`` keep the evidence."""
    from tidegauge.core.explain import explain, headline

    return {
        "id": a["id"],
        "kind": a["kind"],
        "table": a["table"],
        "warehouse": a["warehouse"],
        "column": a["column"],
        "segment": a["segment"],
        "metric": a["metric"],
        "observed": a["observed"],
        "expected": a["expected"],
        "lower": a["lower"],
        "upper": a["upper"],
        "data_time": a["data_time"],
        "detected_at": a["detected_at"],
        "severity": a["severity"],
        "title": a["title"],
        "explanation": a["explanation"],
        "headline": headline(a),
        "sentence": explain(a),
        "feedback": a["feedback"],
        "incident_id": a["incident_id"],
    }


def incident_json(i: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an incident (CLI ``--json`` and the REST API)."""
    out = {
        "id": i["id"],
        "status": i["status"],
        "severity": i["severity"],
        "severity_reason": i.get("severity_reason") or [],
        "kind": i["kind"],
        "table": i["table"],
        "warehouse": i["warehouse"],
        "column": i["column"],
        "title": i["title"],
        "summary": i["summary"],
        "owner": i["owner"],
        "data_time": i["data_time"],
        "detected_at": i["detected_at"],
        "updated_at": i["updated_at"],
        "alerts": i["alerts"],
        "impact": i["impact"],
        "root_cause": i["root_cause"],
    }
    if "timeline" in i:
        out["timeline"] = [
            {
                "at": e["at"],
                "type": e["type"],
                "actor": e["actor"],
                "text": e["text"],
                "details": e["details"],
            }
            for e in i["timeline"]
        ]
    return out
