-- analytics.stg_orders: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    order_id,
    show_id,
    buyer_id as buyer_user_id,
    seller_id as seller_user_id,
    category,
    status as order_status,
    quantity,
    subtotal as subtotal_usd,
    shipping_fee as shipping_usd,
    tax as tax_usd,
    total as order_total_usd,
    coupon_code,
    created_at as ordered_at,
    cast(created_at as date) as order_date
from raw.orders
where currency = 'USD'
