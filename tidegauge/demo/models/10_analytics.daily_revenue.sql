-- analytics.daily_revenue: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    order_date,
    count(*) as orders_count,
    count(distinct buyer_user_id) as buyers_count,
    sum(case when not is_refunded then order_total_usd else 0 end) as gross_revenue_usd,
    sum(case when is_refunded then order_total_usd else 0 end) as refunded_usd,
    sum(net_revenue_usd) as net_revenue_usd,
    avg(order_total_usd) as avg_order_value_usd
from analytics.fct_orders
group by order_date
