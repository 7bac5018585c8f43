-- analytics.show_performance: a view of the demo warehouse (read by tidegauge/demo/sql.py)
with bid_stats as (
    select
        show_id,
        count(*) as bids_count,
        count(distinct bidder_user_id) as unique_bidders,
        max(bid_usd) as top_bid_usd
    from analytics.stg_bids
    group by show_id
),
order_stats as (
    select
        show_id,
        count(*) as orders_count,
        sum(order_total_usd) as gmv_usd
    from analytics.fct_orders
    where order_status not in ('cancelled', 'refunded')
    group by show_id
)
select
    s.show_id,
    s.seller_user_id,
    s.category,
    s.started_at,
    s.duration_minutes,
    s.viewer_peak,
    coalesce(b.bids_count, 0) as bids_count,
    coalesce(b.unique_bidders, 0) as unique_bidders,
    b.top_bid_usd,
    coalesce(o.orders_count, 0) as orders_count,
    coalesce(o.gmv_usd, 0) as gmv_usd,
    case
        when s.viewer_peak > 0 then coalesce(o.orders_count, 0) / s.viewer_peak
    end as orders_per_viewer
from analytics.stg_shows as s
left join bid_stats as b on b.show_id = s.show_id
left join order_stats as o on o.show_id = s.show_id
where s.show_status <> 'cancelled'
