"""Grouping along lineage and time: one incident per real problem, explained."""

from datetime import UTC, datetime, timedelta

from tidegauge.core.incidents import AlertRef, OpenIncident, group_alerts, severity_for
from tidegauge.core.model import AlertKind, Severity

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
# raw.orders → stg.orders → mart.revenue ; raw.users unrelated
EDGES = {("raw.orders", "stg.orders"), ("stg.orders", "mart.revenue")}


def path(a: str, b: str):
    chain = [a]
    while chain[-1] != b:
        nxt = [t for s, t in EDGES if s == chain[-1]]
        if not nxt:
            return None
        chain.append(nxt[0])
    return chain if len(chain) > 1 else None


def test_downstream_symptoms_group_under_most_upstream_alert():
    alerts = [
        AlertRef(3, "mart.revenue", AlertKind.VOLUME, T0 + timedelta(hours=1)),
        AlertRef(1, "stg.orders", AlertKind.VOLUME, T0),
        AlertRef(2, "raw.orders", AlertKind.VOLUME, T0),
        AlertRef(4, "raw.users", AlertKind.VOLUME, T0),
    ]
    groups = group_alerts(alerts, [], path)
    assert len(groups) == 2
    main = next(g for g in groups if len(g.members) == 3)
    assert main.root.id == 2
    assert main.reasons[1] == "grouped because `stg.orders` reads `raw.orders`"
    assert "`mart.revenue` reads `stg.orders`" in main.reasons[3]


def test_order_of_input_does_not_change_grouping():
    alerts = [
        AlertRef(1, "stg.orders", AlertKind.NULL_RATE, T0),
        AlertRef(2, "raw.orders", AlertKind.NULL_RATE, T0),
    ]
    a = group_alerts(alerts, [], path)
    b = group_alerts(list(reversed(alerts)), [], path)
    assert [(g.root.id, sorted(m.id for m in g.members)) for g in a] == [
        (g.root.id, sorted(m.id for m in g.members)) for g in b
    ]


def test_far_apart_in_time_stay_separate():
    alerts = [
        AlertRef(1, "raw.orders", AlertKind.VOLUME, T0),
        AlertRef(2, "stg.orders", AlertKind.VOLUME, T0 + timedelta(days=3)),
    ]
    assert len(group_alerts(alerts, [], path)) == 2


def test_later_alert_joins_open_incident():
    inc = OpenIncident(7, "raw.orders", AlertKind.VOLUME, T0, {"raw.orders"})
    groups = group_alerts([AlertRef(9, "mart.revenue", AlertKind.VOLUME, T0)], [inc], path)
    assert groups[0].incident_id == 7
    assert groups[0].reasons[9].startswith("joined incident #7")


def test_different_problems_on_one_table_stay_apart():
    alerts = [
        AlertRef(1, "raw.orders", AlertKind.VOLUME, T0),
        AlertRef(2, "raw.orders", AlertKind.CATEGORY_NEW_VALUE, T0 + timedelta(hours=5)),
    ]
    assert len(group_alerts(alerts, [], path)) == 2


def test_severity_rises_with_blast_radius():
    assert (
        severity_for(AlertKind.VOLUME, Severity.LOW, exposures=0, owners=0, downstream_tables=0)
        is Severity.LOW
    )
    assert (
        severity_for(AlertKind.VOLUME, Severity.LOW, exposures=1, owners=1, downstream_tables=2)
        is Severity.HIGH
    )
    assert (
        severity_for(AlertKind.VOLUME, Severity.MEDIUM, exposures=3, owners=2, downstream_tables=9)
        is Severity.CRITICAL
    )


def test_sibling_upstream_of_a_symptom_does_not_join():
    # raw.payments → stg.orders too: an alert on raw.payments must not join an incident
    # rooted at raw.orders just because both feed stg.orders
    edges = EDGES | {("raw.payments", "stg.orders")}

    def path2(a, b):
        frontier, parents = [a], {}
        while frontier:
            nxt = []
            for u in frontier:
                for s, t in edges:
                    if s == u and t not in parents:
                        parents[t] = u
                        nxt.append(t)
            frontier = nxt
        if b not in parents:
            return None
        chain = [b]
        while chain[-1] != a:
            chain.append(parents[chain[-1]])
        return list(reversed(chain))

    inc = OpenIncident(1, "raw.orders", AlertKind.VOLUME, T0, {"raw.orders", "stg.orders"})
    groups = group_alerts([AlertRef(5, "raw.payments", AlertKind.VOLUME, T0)], [inc], path2)
    assert groups[0].incident_id is None


def test_cause_seen_after_its_symptom_joins_and_becomes_the_root():
    # another run opened an incident on stg.orders; raw.orders (which it reads) alerts later
    inc = OpenIncident(4, "stg.orders", AlertKind.VOLUME, T0, {"stg.orders"})
    alerts = [
        AlertRef(8, "mart.revenue", AlertKind.VOLUME, T0),
        AlertRef(7, "raw.orders", AlertKind.VOLUME, T0),
    ]
    groups = group_alerts(alerts, [inc], path)
    assert len(groups) == 1
    g = groups[0]
    assert g.incident_id == 4
    assert g.reroot is not None and g.reroot.id == 7 and g.root.id == 7
    assert sorted(m.id for m in g.members) == [7, 8]
    assert "new root" in g.reasons[7] and "`stg.orders` reads `raw.orders`" in g.reasons[7]
    assert inc.root_table == "stg.orders"  # the caller's incident is not mutated


def test_upstream_alert_of_another_family_does_not_take_over_an_incident():
    inc = OpenIncident(4, "stg.orders", AlertKind.VOLUME, T0, {"stg.orders"})
    groups = group_alerts(
        [AlertRef(7, "raw.orders", AlertKind.NULL_RATE, T0, column="id")], [inc], path
    )
    assert groups[0].incident_id is None and groups[0].reroot is None


def test_upstream_alert_outside_the_window_opens_its_own_incident():
    inc = OpenIncident(4, "stg.orders", AlertKind.VOLUME, T0, {"stg.orders"})
    groups = group_alerts(
        [AlertRef(7, "raw.orders", AlertKind.VOLUME, T0 + timedelta(days=2))], [inc], path
    )
    assert groups[0].incident_id is None


def test_a_lasting_condition_keeps_its_incident_reachable():
    # a new status value started 14 hours ago and keeps coming (its latest alert 2 hours
    # ago); the string length of that column moving now is the same problem, not a new one
    inc = OpenIncident(
        3,
        "raw.orders",
        AlertKind.CATEGORY_NEW_VALUE,
        T0,
        {"raw.orders"},
        "status",
        last_time=T0 + timedelta(hours=12),
    )
    late = AlertRef(
        9, "raw.orders", AlertKind.DISTRIBUTION, T0 + timedelta(hours=14), column="status"
    )
    groups = group_alerts([late], [inc], path)
    assert [g.incident_id for g in groups] == [3]
    # measured from its start alone it would have been out of reach
    fresh = OpenIncident(
        3, "raw.orders", AlertKind.CATEGORY_NEW_VALUE, T0, {"raw.orders"}, "status"
    )
    assert [g.incident_id for g in group_alerts([late], [fresh], path)] == [None]
    # an incident that went quiet long ago does not take new alerts
    quiet = OpenIncident(
        3,
        "raw.orders",
        AlertKind.CATEGORY_NEW_VALUE,
        T0,
        {"raw.orders"},
        "status",
        last_time=T0 + timedelta(hours=1),
    )
    assert [g.incident_id for g in group_alerts([late], [quiet], path)] == [None]


def test_alerts_of_one_run_chain_through_an_open_incident():
    inc = OpenIncident(3, "raw.orders", AlertKind.VOLUME, T0, {"raw.orders"})
    alerts = [
        AlertRef(i, "raw.orders", AlertKind.VOLUME, T0 + timedelta(hours=8 * i)) for i in (1, 2)
    ]
    groups = group_alerts(alerts, [inc], path)
    assert [(g.incident_id, sorted(m.id for m in g.members)) for g in groups] == [(3, [1, 2])]


def test_a_lasting_condition_does_not_swallow_other_problems_of_its_table():
    # the new value keeps alerting; a volume drop on the same table hours after it started
    # is another problem (measured from the incident's start, as before)
    inc = OpenIncident(
        3,
        "raw.orders",
        AlertKind.CATEGORY_NEW_VALUE,
        T0,
        {"raw.orders"},
        "status",
        last_time=T0 + timedelta(hours=12),
    )
    drop = AlertRef(9, "raw.orders", AlertKind.VOLUME, T0 + timedelta(hours=12))
    assert [g.incident_id for g in group_alerts([drop], [inc], path)] == [None]
