"""Pages through the ASGI app: errors, escaping, CSRF, auth and the feedback round trip."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import XSS_COLUMN, XSS_TABLE, Seeded, make_client
from tidegauge.config import Project, WebConfig


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no form token"
    return m.group(1)


def test_pages_render(client: TestClient, seeded: Seeded) -> None:
    for url, text in [
        ("/", "Orders volume dropped 80%"),
        (f"/tables/{seeded.orders}", "Rows per time bucket"),
        (f"/tables/{seeded.customers}?column=email", "Null rate · email"),
        (f"/incidents/{seeded.incident}", "Blast radius"),
        ("/incidents?state=all", "Orders volume dropped 80%"),
        ("/alerts?feedback=none", "raw.orders received 130 rows"),
        (f"/lineage?incident={seeded.incident}", "analytics.daily_revenue"),
        ("/search?q=email", "analytics.customers.<b>email</b>"),
        ("/tables?q=rev", "analytics.daily_revenue"),
    ]:
        r = client.get(url)
        assert r.status_code == 200, url
        assert text in r.text, url
        assert "<svg" in r.text or url.startswith(("/search", "/tables?", "/incidents?", "/alerts"))


def test_security_headers(client: TestClient) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in r.text and " style=" not in r.text  # nothing inline for CSP


def test_unknown_ids_give_an_html_404(client: TestClient) -> None:
    for url in (
        "/tables/999",
        "/incidents/999",
        "/no/such/page",
        "/alerts/999",
        "/tables/1?column=nope",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html")
        assert "Not found" in r.text and "Traceback" not in r.text


def test_malformed_parameters_give_422_with_reason(client: TestClient) -> None:
    r = client.get("/tables/abc")
    assert r.status_code == 422 and "valid integer" in r.text
    r = client.get("/incidents?state=maybe")
    assert r.status_code == 422 and "state" in r.text
    assert client.get("/tables?offset=-1").status_code == 422


def test_names_and_notes_are_escaped(client: TestClient, seeded: Seeded) -> None:
    page = client.get(f"/tables/{seeded.evil}").text
    assert XSS_TABLE not in page and XSS_COLUMN not in page
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert XSS_TABLE not in client.get("/").text
    url = f"/incidents/{seeded.incident}"
    token = csrf_of(client.get(url).text)
    r = client.post(f"{url}/notes", data={"text": "<script>alert(2)</script>", "csrf_token": token})
    assert r.status_code == 200  # followed the redirect back
    assert "<script>alert(2)</script>" not in r.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in r.text


def test_form_posts_need_the_csrf_token(client: TestClient, seeded: Seeded) -> None:
    url = f"/alerts/{seeded.volume_alert}/feedback"
    r = client.post(url, data={"value": "expected"})
    assert r.status_code == 403 and "form token" in r.text
    client.get("/")  # sets the cookie
    r = client.post(url, data={"value": "expected", "csrf_token": "forged" * 8})
    assert r.status_code == 403
    token = csrf_of(client.get("/").text)
    r = client.post(
        url,
        data={"value": "expected", "csrf_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "cross-site" in r.text
    assert seeded.store.alerts.get(seeded.volume_alert)["feedback"] is None  # type: ignore[index]


def test_feedback_button_changes_the_page(client: TestClient, seeded: Seeded) -> None:
    url = f"/tables/{seeded.orders}"
    before = client.get(url).text
    assert "✓ expected" not in before
    r = client.post(
        f"/alerts/{seeded.volume_alert}/feedback",
        data={"value": "expected", "csrf_token": csrf_of(before), "next": url},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}#alert-{seeded.volume_alert}"
    after = client.get(url).text
    assert "✓ expected" in after and "marked expected" in after  # badge and flash
    assert 'class="mark reviewed"' in after  # the chart point turns grey
    assert seeded.store.alerts.get(seeded.volume_alert)["feedback"] == "expected"  # type: ignore[index]


def test_status_buttons_and_open_redirects(client: TestClient, seeded: Seeded) -> None:
    url = f"/incidents/{seeded.incident}"
    token = csrf_of(client.get(url).text)
    r = client.post(f"{url}/status", data={"status": "acknowledged", "csrf_token": token})
    assert r.status_code == 200 and "is now acknowledged" in r.text
    r = client.post(
        f"/alerts/{seeded.null_alert}/feedback",
        follow_redirects=False,
        data={"value": "fixed", "csrf_token": token, "next": "//evil.example/x"},
    )
    assert r.headers["location"].startswith("/#alert-")


def auth_project() -> Project:
    return Project(name="shop", web=WebConfig(read_tokens=["r" * 24], admin_tokens=["a" * 24]))


def test_token_auth_api(seeded: Seeded) -> None:
    with make_client(seeded, auth_project()) as c:
        r = c.get("/api/v1/tables")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/api/v1/tables", headers={"authorization": "Bearer nope"}).status_code == 401
        read = {"authorization": "Bearer " + "r" * 24}
        admin = {"authorization": "Bearer " + "a" * 24}
        assert c.get("/api/v1/tables", headers=read).status_code == 200
        url = f"/api/v1/alerts/{seeded.volume_alert}/feedback"
        r = c.post(url, json={"value": "expected"}, headers=read)
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        r = c.post(url, json={"value": "expected"}, headers=admin)
        assert r.status_code == 200
        assert r.json()["feedback"] == "expected"
        assert c.get("/openapi.json").status_code == 200


def test_token_auth_pages(seeded: Seeded) -> None:
    with make_client(seeded, auth_project()) as c:
        r = c.get(f"/incidents/{seeded.incident}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        login = c.get(r.headers["location"]).text
        bad = c.post("/login", data={"token": "wrong", "csrf_token": csrf_of(login)})
        assert bad.status_code == 401 and "not valid" in bad.text
        r = c.post(
            "/login",
            data={
                "token": "r" * 24,
                "csrf_token": csrf_of(login),
                "next": f"/incidents/{seeded.incident}",
            },
        )
        assert r.status_code == 200 and "read only" in r.text
        assert "disabled" in r.text  # buttons off for a read token
        r = c.post(
            f"/incidents/{seeded.incident}/status",
            data={"status": "fixed", "csrf_token": csrf_of(r.text)},
        )
        assert r.status_code == 403 and "admin token" in r.text
        login = c.get("/login").text
        r = c.post(
            "/login",
            data={
                "token": "a" * 24,
                "csrf_token": csrf_of(login),
                "next": f"/incidents/{seeded.incident}",
            },
        )
        r = c.post(
            f"/incidents/{seeded.incident}/status",
            data={"status": "fixed", "csrf_token": csrf_of(r.text)},
        )
        assert r.status_code == 200 and "is now fixed" in r.text


def test_the_lineage_page_opens_on_a_graph_with_names(client: TestClient) -> None:
    r = client.get("/lineage")
    assert r.status_code == 200
    assert "<svg" in r.text and "Opened on the most connected table" in r.text
    assert 'value="table:' not in r.text  # the box shows a name, never an internal id
    r = client.get("/lineage?node=table:main:raw.orders")
    assert r.status_code == 200 and 'value="raw.orders"' in r.text


def test_a_freshness_axis_reads_as_durations() -> None:
    from datetime import UTC, datetime, timedelta

    from tidegauge.web.charts import ChartData, metric_chart

    times = [datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(24)]
    flat = metric_chart(ChartData(times, [0.0] * 24), metric="freshness_lag_seconds", title="Lag")
    assert "-0" not in str(flat) and ">1 min<" in str(flat)
    late = metric_chart(
        ChartData(times, [3600.0 * (h % 9) for h in range(24)]),
        metric="freshness_lag_seconds",
        title="Lag",
    )
    assert ">8 h<" in str(late) and ">0 s<" in str(late)


def test_a_new_value_chart_is_titled_by_the_value() -> None:
    from tidegauge.web.pages import chart_title

    assert chart_title("value_count", "status", "on_hold") == "Rows with status = 'on_hold'"
    assert chart_title("len_mean", "email") == "Mean length · email"
