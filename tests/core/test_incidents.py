"""Grouping along lineage and time: one incident per real problem, explained."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tidegauge.core.incidents import (
    CONTINUING,
    DOWNSTREAM,
    ROOT,
    AlertRef,
    Link,
    OpenIncident,
    group_alerts,
)
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
    assert main.reasons[1].startswith("grouped because `stg.orders` reads `raw.orders`")
    assert "rows missing or late in `raw.orders`" in main.reasons[1]
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


def test_the_most_severe_of_simultaneous_alerts_on_a_table_roots_and_names_the_incident():
    # a migration adds 40 columns and removes one: the removal breaks readers, the rest not
    added = [
        AlertRef(i, "raw.orders", AlertKind.SCHEMA_CHANGE, T0, Severity.LOW, f"extra_{i}")
        for i in range(1, 41)
    ]
    removed = AlertRef(41, "raw.orders", AlertKind.SCHEMA_CHANGE, T0, Severity.HIGH, "user")
    (group,) = group_alerts([*added, removed], [], path)
    assert group.root.id == 41 and len(group.members) == 41
    # the most upstream still comes first, whatever its severity
    symptom = AlertRef(50, "stg.orders", AlertKind.VOLUME, T0, Severity.CRITICAL)
    cause = AlertRef(51, "raw.orders", AlertKind.VOLUME, T0, Severity.LOW)
    (chain,) = group_alerts([symptom, cause], [], path)
    assert chain.root.id == 51


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


# A marketplace: orders and shows both feed show_performance; payments feed fct_orders too.
MARKET = {
    ("raw.orders", "stg.orders"),
    ("stg.orders", "fct.orders"),
    ("fct.orders", "mart.show_performance"),
    ("raw.shows", "stg.shows"),
    ("stg.shows", "mart.show_performance"),
    ("raw.payments", "stg.payments"),
    ("stg.payments", "fct.orders"),
}
#: column lineage: (root table, root column) → {downstream column: computed directly?}
COLUMNS = {
    ("raw.orders", "status"): {
        "stg.orders.status": True,
        "fct.orders.status": True,
        "mart.show_performance.orders_count": False,  # a status filter
    },
    ("raw.payments", "method"): {
        "stg.payments.method": True,
        "fct.orders.payment_method": True,
    },
}


def market_path(a: str, b: str):
    frontier, parents = [a], {}
    while frontier:
        nxt = []
        for u in frontier:
            for s, t in sorted(MARKET):
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


def market_link(root: str, root_column: str, table: str, column: str | None) -> Link:
    reach = COLUMNS.get((root, root_column))
    if reach is None or column is None:
        return Link.UNKNOWN
    direct = reach.get(f"{table}.{column}")
    if direct is None:
        return Link.NONE
    return Link.DIRECT if direct else Link.INDIRECT


def test_a_downstream_drop_joins_its_upstream_root_not_a_concurrent_unrelated_incident():
    # a new status value has been alerting on raw.orders all day, its latest alert in the
    # very hour show_performance drops; raw.shows stopped loading three hours earlier and
    # is still overdue. The drop is missing shows, not a status value.
    new_value = OpenIncident(
        1,
        "raw.orders",
        AlertKind.CATEGORY_NEW_VALUE,
        T0 - timedelta(hours=12),
        {"raw.orders"},
        "status",
        last_time=T0 + timedelta(hours=3),
    )
    shows_stopped = OpenIncident(
        2, "raw.shows", AlertKind.FRESHNESS, T0, {"raw.shows"}, last_time=T0 + timedelta(hours=2)
    )
    drop = AlertRef(9, "mart.show_performance", AlertKind.VOLUME, T0 + timedelta(hours=3))
    groups = group_alerts([drop], [new_value, shows_stopped], market_path, link=market_link)
    assert [(g.incident_id, [m.id for m in g.members]) for g in groups] == [(2, [9])]
    assert "rows missing or late in `raw.shows`" in groups[0].reasons[9]
    assert groups[0].roles == {9: DOWNSTREAM}


def test_a_downstream_column_joins_the_root_its_column_is_computed_from():
    # fct.orders reads both raw.orders and raw.payments; its payment_method null rate comes
    # from the payments problem even though the orders problem alerts in the same hour
    orders = OpenIncident(
        1, "raw.orders", AlertKind.NULL_RATE, T0, {"raw.orders"}, "status", last_time=T0
    )
    payments = OpenIncident(
        2,
        "raw.payments",
        AlertKind.NULL_RATE,
        T0 - timedelta(hours=4),
        {"raw.payments"},
        "method",
        last_time=T0 - timedelta(hours=1),
    )
    symptom = AlertRef(9, "fct.orders", AlertKind.NULL_RATE, T0, column="payment_method")
    groups = group_alerts([symptom], [orders, payments], market_path, link=market_link)
    assert [g.incident_id for g in groups] == [2]
    assert "computed from `raw.payments.method`" in groups[0].reasons[9]


def test_a_column_that_lineage_does_not_connect_joins_only_in_the_same_hour():
    inc = OpenIncident(
        1, "raw.payments", AlertKind.NULL_RATE, T0, {"raw.payments"}, "method", last_time=T0
    )
    later = AlertRef(
        9, "fct.orders", AlertKind.NULL_RATE, T0 + timedelta(hours=3), column="order_id"
    )
    assert [g.incident_id for g in group_alerts([later], [inc], market_path, link=market_link)] == [
        None
    ]
    same_hour = replace(later, data_time=T0)
    groups = group_alerts([same_hour], [inc], market_path, link=market_link)
    assert [g.incident_id for g in groups] == [1]
    assert "same hour" in groups[0].reasons[9]


def test_repeats_on_one_table_are_continuing():
    alerts = [
        AlertRef(1, "raw.orders", AlertKind.VOLUME, T0),
        AlertRef(2, "raw.orders", AlertKind.VOLUME, T0 + timedelta(hours=1)),
        AlertRef(3, "raw.orders", AlertKind.VOLUME, T0 + timedelta(hours=2)),
        AlertRef(4, "stg.orders", AlertKind.VOLUME, T0),
    ]
    (group,) = group_alerts(alerts, [], market_path, link=market_link)
    assert group.roles == {1: ROOT, 2: CONTINUING, 3: CONTINUING, 4: DOWNSTREAM}
    assert group.reasons[2].startswith("continuing on `raw.orders`")
    # a later run: the next repeat continues the open incident, it is not a symptom
    inc = OpenIncident(
        7, "raw.orders", AlertKind.VOLUME, T0, {"raw.orders"}, last_time=T0 + timedelta(hours=2)
    )
    (joined,) = group_alerts(
        [AlertRef(5, "raw.orders", AlertKind.VOLUME, T0 + timedelta(hours=3))],
        [inc],
        market_path,
        link=market_link,
    )
    assert joined.incident_id == 7 and joined.roles == {5: CONTINUING}


def test_missing_rows_explain_the_tables_own_columns_while_rows_are_missing():
    # three hours into a volume drop, the distinct count of sellers falls with the rows
    inc = OpenIncident(
        7, "raw.orders", AlertKind.VOLUME, T0, {"raw.orders"}, last_time=T0 + timedelta(hours=3)
    )
    sellers = AlertRef(
        8, "raw.orders", AlertKind.DISTINCT, T0 + timedelta(hours=3), column="seller_id"
    )
    (joined,) = group_alerts([sellers], [inc], market_path, link=market_link)
    assert joined.incident_id == 7 and joined.roles == {8: CONTINUING}
    assert "while rows were missing" in joined.reasons[8]


def test_a_schema_change_downstream_joins_the_upstream_schema_change_not_a_data_incident():
    drop = OpenIncident(
        1, "raw.orders", AlertKind.VOLUME, T0, {"raw.orders"}, last_time=T0 + timedelta(hours=4)
    )
    removed = AlertRef(
        5, "stg.orders", AlertKind.SCHEMA_CHANGE, T0 + timedelta(hours=8), column="coupon"
    )
    groups = group_alerts([removed], [drop], market_path, link=market_link)
    assert [g.incident_id for g in groups] == [None]
    # not even in the same hour: rows going missing never remove a column
    same_hour = replace(removed, data_time=T0 + timedelta(hours=4))
    assert [g.incident_id for g in group_alerts([same_hour], [drop], market_path)] == [None]
    schema = OpenIncident(
        2, "raw.orders", AlertKind.SCHEMA_CHANGE, T0, {"raw.orders"}, "coupon", last_time=T0
    )
    groups = group_alerts([same_hour], [drop, schema], market_path, link=market_link)
    assert [g.incident_id for g in groups] == [2]


def test_a_symptom_does_not_come_before_its_cause():
    inc = OpenIncident(1, "raw.shows", AlertKind.FRESHNESS, T0, {"raw.shows"}, last_time=T0)
    early = AlertRef(5, "stg.shows", AlertKind.VOLUME, T0 - timedelta(hours=5))
    assert [g.incident_id for g in group_alerts([early], [inc], market_path)] == [None]


def test_a_symptom_dated_with_an_earlier_repeat_on_the_root_table_joins_it():
    # raw.payments.method went NULL at T0 (the open incident). The next run finds the share
    # of `card` shifted, in the root table and below it, each dated at the start of the
    # window it pooled (T0 - 2h), and more nulls. The root table's own shift shows the
    # problem was there from T0 - 2h: the shifts below are its symptoms, not a new incident.
    payments = OpenIncident(
        3, "raw.payments", AlertKind.NULL_RATE, T0, {"raw.payments"}, "method", last_time=T0
    )
    early = T0 - timedelta(hours=2)
    alerts = [
        AlertRef(10, "raw.payments", AlertKind.CATEGORY_SHIFT, early, column="method"),
        AlertRef(11, "stg.payments", AlertKind.CATEGORY_SHIFT, early, column="method"),
        AlertRef(12, "fct.orders", AlertKind.CATEGORY_SHIFT, early, column="payment_method"),
        AlertRef(13, "stg.payments", AlertKind.NULL_RATE, T0 + timedelta(hours=1), column="method"),
    ]
    groups = group_alerts(alerts, [payments], market_path, link=market_link)
    assert [(g.incident_id, sorted(m.id for m in g.members)) for g in groups] == [
        (3, [10, 11, 12, 13])
    ]
    assert groups[0].roles[10] == CONTINUING and groups[0].roles[11] == DOWNSTREAM
    # the same, with the root table's early repeat already stored from an earlier run
    stored = replace(payments, first_time=early)
    groups = group_alerts(alerts[1:], [stored], market_path, link=market_link)
    assert [g.incident_id for g in groups] == [3]
    # without any repeat that early on the root table, a symptom two hours before its
    # cause is still no symptom of it
    groups = group_alerts(alerts[1:2], [payments], market_path, link=market_link)
    assert [g.incident_id for g in groups] == [None]
