"""Every page says so while notifications have given up: a banner naming the incidents whose
message did not get through, linking to them, and saying how to send again. Nobody without
read access sees it (the sign-in page of a server with tokens)."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import NOW, Seeded, make_client
from tests.web.test_pages import auth_project, csrf_of
from tidegauge.store.outbox import OutboxRepo

BANNER = 'class="banner-undelivered"'


def give_up(seeded: Seeded, incident_id: int | None, channel: str, key: str) -> None:
    outbox = OutboxRepo(seeded.store)
    outbox.enqueue(
        dedup_key=key,
        channel=channel,
        incident_id=incident_id,
        action="trigger",
        payload={"title": "t"},
        now=NOW,
    )
    row = outbox.rows(status="pending")[-1]
    outbox.mark_failed(row["id"], "still failing after 24h: 503")


def test_no_banner_while_everything_got_through_or_still_tries(seeded: Seeded) -> None:
    OutboxRepo(seeded.store).enqueue(
        dedup_key="k-pending",
        channel="hook",
        incident_id=seeded.incident,
        action="trigger",
        payload={"title": "t"},
        now=NOW,
        not_before=NOW + timedelta(hours=1),
    )
    with make_client(seeded) as c:
        for page in ("/", "/incidents", f"/incidents/{seeded.incident}", "/tables"):
            r = c.get(page)
            assert r.status_code == 200 and BANNER not in r.text, page


def test_banner_links_the_incidents_whose_message_gave_up(seeded: Seeded) -> None:
    give_up(seeded, seeded.incident, "hook", "k1")
    give_up(seeded, seeded.incident, "pager", "k1:fallback:pager")
    give_up(seeded, None, "hook", "digest-hook-9")  # a digest belongs to no one incident
    with make_client(seeded) as c:
        for page in ("/", "/alerts", f"/tables/{seeded.orders}", "/lineage", "/nope"):
            text = c.get(page).text
            assert BANNER in text, page
            banner = text.split(BANNER, 1)[1].split("</div>", 1)[0]
            assert "3 notifications could not be delivered" in banner
            assert "hook, pager" in banner
            assert banner.count('href="/incidents/') == 1
            assert f'href="/incidents/{seeded.incident}"' in banner
            assert "tidegauge outbox --failed" in banner
        # the link leads to the incident, whose timeline holds the rest of the story
        assert c.get(f"/incidents/{seeded.incident}").status_code == 200
        # requeued: the banner goes
        OutboxRepo(seeded.store).requeue(None, NOW)
        assert BANNER not in c.get("/").text


def test_past_five_incidents_the_rest_are_counted_and_linked_to_the_list(seeded: Seeded) -> None:
    from tidegauge.core.model import AlertKind, Incident, TableRef

    ids = [seeded.incident]
    for n in range(6):
        inc = Incident(AlertKind.VOLUME, TableRef("main", "raw", "orders"), f"drop {n}", NOW, NOW)
        ids.append(seeded.store.incidents.create(inc, seeded.orders, seeded.volume_alert))
    for n, iid in enumerate(ids):
        give_up(seeded, iid, "hook", f"k{n}")
    with make_client(seeded) as c:
        banner = c.get("/").text.split(BANNER, 1)[1].split("</div>", 1)[0]
    linked = [f'href="/incidents/{iid}"' in banner for iid in sorted(ids)]
    assert linked == [True] * 5 + [False] * 2
    assert '<a href="/incidents">2 more</a>' in banner


def test_the_sign_in_page_does_not_show_it(seeded: Seeded) -> None:
    give_up(seeded, seeded.incident, "hook", "k1")
    with make_client(seeded, auth_project()) as c:
        login = c.get("/login")
        assert login.status_code == 200 and BANNER not in login.text
        r = c.post("/login", data={"token": "r" * 24, "csrf_token": csrf_of(login.text)})
        assert r.status_code == 200 and BANNER in r.text
