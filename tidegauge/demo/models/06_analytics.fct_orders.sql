-- analytics.fct_orders: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    o.order_id,
    o.show_id,
    o.buyer_user_id,
    o.seller_user_id,
    o.category,
    o.order_status,
    o.quantity,
    o.subtotal_usd,
    o.shipping_usd,
    o.tax_usd,
    o.order_total_usd,
    o.coupon_code is not null as used_coupon,
    o.ordered_at,
    o.order_date,
    p.payment_id,
    p.payment_method,
    p.payment_status,
    p.paid_at,
    coalesce(p.fee_usd, 0) as payment_fee_usd,
    case
        when p.payment_status = 'succeeded' then o.order_total_usd - p.fee_usd
        else 0
    end as net_revenue_usd,
    o.order_status in ('refunded', 'cancelled') as is_refunded
from analytics.stg_orders as o
left join analytics.stg_payments as p on p.order_id = o.order_id
