-- analytics.dim_users: a view of the demo warehouse (read by tidegauge/demo/sql.py)
with order_stats as (
    select
        buyer_user_id as user_id,
        count(*) as orders_count,
        sum(order_total_usd) as lifetime_value_usd,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from analytics.fct_orders
    where not is_refunded
    group by buyer_user_id
)
select
    u.user_id,
    u.username,
    u.email,
    u.country_code,
    u.signup_platform,
    u.is_seller,
    u.referral_code,
    u.signed_up_at,
    coalesce(s.orders_count, 0) as orders_count,
    coalesce(s.lifetime_value_usd, 0) as lifetime_value_usd,
    s.first_order_at,
    s.last_order_at
from analytics.stg_users as u
left join order_stats as s on s.user_id = u.user_id
