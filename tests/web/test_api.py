"""The REST API through the ASGI app, against a real SQLite store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Seeded


def test_tables_list_page_and_filter(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/api/v1/tables", params={"limit": 2, "offset": 0})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and body["limit"] == 2 and len(body["items"]) == 2
    r = client.get("/api/v1/tables", params={"q": "orders"})
    (orders,) = r.json()["items"]
    assert orders["fqn"] == "raw.orders"
    assert orders["health"] == "critical" and orders["open_incidents"] == 1
    assert orders["owners"] == ["data-platform@example.com"] and orders["tags"] == ["raw"]


def test_table_detail_columns_and_schema_history(client: TestClient, seeded: Seeded) -> None:
    r = client.get(f"/api/v1/tables/{seeded.orders}")
    assert [c["name"] for c in r.json()["columns"]] == ["id", "status", "amount", "created_at"]
    cols = client.get(f"/api/v1/tables/{seeded.orders}/columns").json()
    assert cols[1] == {
        "name": "status",
        "data_type": "VARCHAR",
        "family": "string",
        "nullable": True,
        "ordinal": 1,
    }
    history = client.get(f"/api/v1/tables/{seeded.orders}/schema-history").json()
    assert history[0]["change"] == "column_added" and history[0]["column_name"] == "coupon_code"


def test_metric_history_has_band_and_alert(client: TestClient, seeded: Seeded) -> None:
    series = client.get(f"/api/v1/tables/{seeded.orders}/metrics").json()
    assert {"metric": "bucket_row_count", "column": None, "segment": None, "points": 504} in series
    r = client.get(f"/api/v1/tables/{seeded.orders}/metrics/bucket_row_count", params={"days": 7})
    assert r.status_code == 200
    body = r.json()
    points = body["points"]
    assert len(points) == 7 * 24
    banded = [p for p in points if p["lower"] is not None]
    assert len(banded) > 100  # the model band covers the window
    for p in banded[:-4]:  # before the drop, the band brackets the value
        assert p["lower"] <= p["expected"] <= p["upper"]
    flagged = [p for p in points if p["alert_id"] is not None]
    assert [p["alert_id"] for p in flagged] == [seeded.volume_alert]
    # where an alert exists its stored band is shown, not the display model's
    assert (flagged[0]["lower"], flagged[0]["upper"]) == (520.0, 760.0)
    assert flagged[0]["value"] < flagged[0]["lower"]


def test_metric_history_unknown_series_is_404(client: TestClient, seeded: Seeded) -> None:
    r = client.get(f"/api/v1/tables/{seeded.orders}/metrics/null_rate", params={"column": "nope"})
    assert r.status_code == 404 and "no series" in r.json()["detail"]


def test_alerts_filters_and_pagination(client: TestClient, seeded: Seeded) -> None:
    body = client.get("/api/v1/alerts", params={"limit": 1}).json()
    assert body["total"] == 2 and len(body["items"]) == 1
    second = client.get("/api/v1/alerts", params={"limit": 1, "offset": 1}).json()["items"]
    assert second[0]["id"] != body["items"][0]["id"]
    nulls = client.get("/api/v1/alerts", params={"kind": "null_rate"}).json()["items"]
    assert [a["id"] for a in nulls] == [seeded.null_alert]
    assert nulls[0]["table"] == "analytics.customers" and nulls[0]["column"] == "email"
    by_table = client.get("/api/v1/alerts", params={"table_id": seeded.orders}).json()
    assert by_table["total"] == 1
    assert client.get("/api/v1/alerts", params={"feedback": "none"}).json()["total"] == 2


def test_feedback_post_reaches_the_store(client: TestClient, seeded: Seeded) -> None:
    r = client.post(f"/api/v1/alerts/{seeded.volume_alert}/feedback", json={"value": "expected"})
    assert r.status_code == 200 and r.json()["feedback"] == "expected"
    fb = seeded.store.alerts.feedback_for(seeded.orders)
    assert [v for entries in fb.values() for _, v in entries] == ["expected"]
    assert client.get("/api/v1/alerts", params={"feedback": "expected"}).json()["total"] == 1
    assert (
        client.post(
            f"/api/v1/alerts/{seeded.volume_alert}/feedback", json={"value": "great"}
        ).status_code
        == 422
    )
    assert client.post("/api/v1/alerts/9999/feedback", json={"value": "fixed"}).status_code == 404


def test_writes_need_json(client: TestClient, seeded: Seeded) -> None:
    r = client.post(
        f"/api/v1/alerts/{seeded.volume_alert}/feedback",
        content='{"value": "expected"}',
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 415


def test_incidents_list_detail_status_and_notes(client: TestClient, seeded: Seeded) -> None:
    body = client.get("/api/v1/incidents", params={"open": "true"}).json()
    assert body["total"] == 1
    inc = body["items"][0]
    assert inc["table"] == "raw.orders" and sorted(inc["alerts"]) == sorted(
        [seeded.volume_alert, seeded.null_alert]
    )
    detail = client.get(f"/api/v1/incidents/{seeded.incident}").json()
    assert detail["impact"]["exposures"] == ["Revenue dashboard"]
    assert detail["timeline"][0]["type"] == "opened"
    r = client.post(
        f"/api/v1/incidents/{seeded.incident}/status",
        json={"status": "fixed", "note": "backfilled"},
    )
    assert r.status_code == 200 and r.json()["status"] == "fixed"
    assert client.get("/api/v1/incidents", params={"open": "true"}).json()["total"] == 0
    assert client.get("/api/v1/incidents", params={"status": "fixed"}).json()["total"] == 1
    r = client.post(f"/api/v1/incidents/{seeded.incident}/notes", json={"text": "told finance"})
    assert r.status_code == 201
    texts = [e["text"] for e in r.json()["timeline"]]
    assert texts[-3:] == ["status open → fixed", "backfilled", "told finance"]
    assert (
        client.post(f"/api/v1/incidents/{seeded.incident}/notes", json={"text": ""}).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/incidents/{seeded.incident}/status", json={"status": "closed"}
        ).status_code
        == 422
    )


def test_lineage_upstream_downstream_and_impact(client: TestClient) -> None:
    down = client.get("/api/v1/lineage/downstream", params={"node": "raw.orders"}).json()
    assert {n["name"] for n in down["nodes"]} == {
        "analytics.daily_revenue",
        "analytics.customers",
        "Revenue dashboard",
    }
    one = client.get("/api/v1/lineage/downstream", params={"node": "raw.orders", "depth": 1}).json()
    assert len(one["nodes"]) == 2
    up = client.get("/api/v1/lineage/upstream", params={"node": "analytics.daily_revenue"}).json()
    assert [n["name"] for n in up["nodes"]] == ["raw.orders"]
    impact = client.get("/api/v1/impact", params={"node": "raw.orders"}).json()
    assert impact["exposures"] == ["Revenue dashboard"]
    r = client.get("/api/v1/lineage/downstream", params={"node": "raw.ordrs"})
    assert r.status_code == 404 and "raw.orders" in r.json()["detail"]["candidates"]
    assert client.get("/api/v1/lineage/sideways", params={"node": "x"}).status_code == 422


def test_monitors_and_runs(client: TestClient, seeded: Seeded) -> None:
    mons = client.get("/api/v1/monitors", params={"table_id": seeded.customers}).json()
    names = [m["name"] for m in mons]
    assert names[:3] == ["freshness", "volume", "schema"]
    assert "field health · email" in names
    runs = client.get("/api/v1/runs").json()
    assert runs[0]["status"] == "success"
    detail = client.get(f"/api/v1/runs/{runs[0]['id']}").json()
    assert detail["stats"] == {"tables": 4}
    assert client.get("/api/v1/runs/999").status_code == 404


def test_openapi_and_json_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/tables",
        "/api/v1/alerts/{alert_id}/feedback",
        "/api/v1/incidents/{incident_id}/status",
        "/api/v1/lineage/{direction}",
        "/api/v1/tables/{table_id}/metrics/{metric}",
        "/api/v1/lineage",
    ):
        assert path in spec["paths"], path
    assert "/" not in spec["paths"]  # pages are not API
    r = client.get("/api/v1/tables/999")
    assert r.status_code == 404 and r.json() == {"detail": "no table with id 999"}
    r = client.get("/api/v1/alerts", params={"limit": "lots"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    assert client.get("/api/v1/alerts", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}


def test_openlineage_rejects_an_incomplete_event(client: TestClient) -> None:
    r = client.post("/api/v1/lineage", json={"eventType": "COMPLETE"})
    assert r.status_code == 400 and "eventTime" in r.json()["detail"]


def test_configured_owners_and_tags_per_project(seeded: Seeded) -> None:
    from tests.web.conftest import make_client
    from tidegauge.config import Project, TableSettings

    for owner, tag in (("oncall@example.com", "tier-1"), ("other@example.com", "tier-2")):
        project = Project(
            name="shop", tables=[TableSettings(match="raw.*", owner=owner, tags=[tag])]
        )
        with make_client(seeded, project) as c:
            t = c.get(f"/api/v1/tables/{seeded.orders}").json()
            assert t["owners"] == ["data-platform@example.com", owner]
            assert t["tags"] == ["raw", tag]
            (listed,) = c.get("/api/v1/tables", params={"q": "orders"}).json()["items"]
            assert (listed["owners"], listed["tags"]) == (t["owners"], t["tags"])
            other = c.get(f"/api/v1/tables/{seeded.revenue}").json()
            assert other["owners"] == [] and other["tags"] == []
