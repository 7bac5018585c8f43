"""Column lineage from SQL: direct vs indirect, CTEs, stars, unions, DML, and bad SQL."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tidegauge.core.lineage import EdgeKind
from tidegauge.core.sql_lineage import column_lineage, statements_lineage, table_refs_from_tokens

SCHEMA = {
    "shop.orders": ["order_id", "buyer_id", "amount", "status", "ordered_at"],
    "shop.users": ["user_id", "name", "country"],
}


def edges(lin, column):  # (table, column, kind) feeding one output column
    return {(e.source_table, e.source_column, e.kind) for e in lin.edges_into(column)}


D, IND = EdgeKind.DIRECT, EdgeKind.INDIRECT


def test_direct_and_indirect_through_ctes_joins_and_group_by() -> None:
    sql = """
        with paid as (select * from shop.orders where status = 'paid')
        select u.country, sum(p.amount) as revenue
        from paid p join shop.users u on u.user_id = p.buyer_id
        group by u.country
        having count(*) > 2
    """
    lin = column_lineage(sql, schema=SCHEMA, dialect="duckdb")
    assert lin.error is None and lin.column_level
    assert lin.output_columns == ("country", "revenue")
    assert edges(lin, "revenue") == {
        ("shop.orders", "amount", D),
        ("shop.orders", "status", IND),
        ("shop.orders", "buyer_id", IND),
        ("shop.users", "user_id", IND),
        ("shop.users", "country", IND),
    }
    assert ("shop.users", "country", D) in edges(lin, "country")
    assert set(lin.sources) == {"shop.orders", "shop.users"}


def test_select_star_is_expanded_from_the_schema() -> None:
    lin = column_lineage("select * from shop.users", schema=SCHEMA)
    assert lin.output_columns == ("user_id", "name", "country")
    assert edges(lin, "name") == {("shop.users", "name", D)}


def test_star_without_schema_is_reported_not_invented() -> None:
    lin = column_lineage("select * from shop.unknown_table")
    assert lin.output_columns == ()
    assert lin.sources == ("shop.unknown_table",)
    assert lin.error and "SELECT *" in lin.error


def test_union_maps_columns_by_position() -> None:
    sql = "select buyer_id as who from shop.orders union all select user_id from shop.users"
    lin = column_lineage(sql, schema=SCHEMA)
    assert edges(lin, "who") == {("shop.orders", "buyer_id", D), ("shop.users", "user_id", D)}


def test_window_partition_and_case_condition_are_indirect() -> None:
    sql = """select rank() over (partition by country order by name) as r,
                    case when country = 'US' then name end as us_name
             from shop.users"""
    lin = column_lineage(sql, schema=SCHEMA)
    assert edges(lin, "r") == {("shop.users", "country", IND), ("shop.users", "name", IND)}
    assert edges(lin, "us_name") == {("shop.users", "name", D), ("shop.users", "country", IND)}


def test_scalar_and_filter_subqueries() -> None:
    sql = """select u.user_id,
                    (select max(o.amount) from shop.orders o where o.buyer_id = u.user_id) as top
             from shop.users u
             where u.user_id in (select buyer_id from shop.orders where status = 'paid')"""
    lin = column_lineage(sql, schema=SCHEMA)
    top = edges(lin, "top")
    assert ("shop.orders", "amount", D) in top
    assert ("shop.orders", "buyer_id", IND) in top
    assert ("shop.orders", "status", IND) in edges(lin, "user_id")


def test_create_table_as_view_and_insert_name_the_target() -> None:
    ctas = column_lineage("create table mart.t as select amount from shop.orders", schema=SCHEMA)
    assert (ctas.statement, ctas.target) == ("create_table", "mart.t")
    view = column_lineage("create or replace view mart.v as select name from shop.users")
    assert (view.statement, view.target) == ("create_view", "mart.v")
    ins = column_lineage(
        "insert into mart.t (total, who) select amount * 2, buyer_id from shop.orders",
        schema=SCHEMA,
    )
    assert ins.target == "mart.t" and ins.output_columns == ("total", "who")
    assert edges(ins, "total") == {("shop.orders", "amount", D)}


def test_merge() -> None:
    sql = """merge into mart.balances b
             using (select buyer_id, sum(amount) as amt from shop.orders
                    where status = 'paid' group by buyer_id) s
             on b.user_id = s.buyer_id
             when matched then update set balance = s.amt
             when not matched then insert (user_id, balance) values (s.buyer_id, s.amt)"""
    lin = column_lineage(sql, schema=SCHEMA)
    assert lin.statement == "merge" and lin.target == "mart.balances"
    bal = edges(lin, "balance")
    assert ("shop.orders", "amount", D) in bal
    assert ("shop.orders", "status", IND) in bal
    assert ("mart.balances", "user_id", IND) in bal  # the ON condition
    assert ("shop.orders", "buyer_id", D) in edges(lin, "user_id")


def test_unparseable_sql_falls_back_to_tokenized_tables() -> None:
    sql = "select a from {{ ref('x') }} join shop.users u on"
    lin = column_lineage(sql, dialect="duckdb")
    assert not lin.column_level
    assert lin.error and lin.error.startswith("sqlglot could not parse")
    assert "shop.users" in lin.sources


def test_tokenizer_refs_skip_ctes_and_find_targets() -> None:
    target, sources = table_refs_from_tokens(
        "insert into mart.t with c as (select 1) select * from c join raw.a on true"
    )
    assert target == "mart.t"
    assert sources == ["raw.a"]


def test_column_missing_from_schema_is_noted() -> None:
    lin = column_lineage("select refund_reason from shop.orders", schema=SCHEMA)
    assert ("shop.orders", "refund_reason", D) in edges(lin, "refund_reason")
    assert lin.error and "refund_reason" in lin.error


def test_several_statements() -> None:
    out = statements_lineage("create view a.v as select 1 as x; select name from shop.users")
    assert [r.statement for r in out] == ["create_view", "select"]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    lin = column_lineage(text, schema=SCHEMA)
    assert isinstance(lin.column_level, bool)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "select",
                "from",
                "where",
                "(",
                ")",
                "shop.orders",
                "a",
                ",",
                "join",
                "on",
                "=",
                "*",
                "union",
                "with",
                "as",
                "group by",
                "1",
                "'x'",
            ]
        ),
        max_size=25,
    )
)
def test_never_raises_on_sql_like_token_soup(tokens: list[str]) -> None:
    column_lineage(" ".join(tokens), schema=SCHEMA, dialect="duckdb")
