-- analytics.dim_sellers: a view of the demo warehouse (read by tidegauge/demo/sql.py)
with show_stats as (
    select
        seller_user_id,
        count(*) as shows_count,
        min(started_at) as first_show_at,
        max(started_at) as last_show_at,
        mode(category) as primary_category,
        avg(viewer_peak) as avg_viewer_peak
    from analytics.stg_shows
    group by seller_user_id
),
sales as (
    select
        seller_user_id,
        count(*) as orders_count,
        sum(order_total_usd) as gmv_usd
    from analytics.fct_orders
    where order_status not in ('cancelled', 'refunded')
    group by seller_user_id
)
select
    u.user_id as seller_user_id,
    u.username,
    u.country_code,
    u.signed_up_at,
    coalesce(sh.shows_count, 0) as shows_count,
    sh.first_show_at,
    sh.last_show_at,
    sh.primary_category,
    round(sh.avg_viewer_peak, 1) as avg_viewer_peak,
    coalesce(sa.orders_count, 0) as orders_count,
    coalesce(sa.gmv_usd, 0) as gmv_usd
from analytics.stg_users as u
left join show_stats as sh on sh.seller_user_id = u.user_id
left join sales as sa on sa.seller_user_id = u.user_id
where u.is_seller
