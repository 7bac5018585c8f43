-- analytics.stg_payments: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    payment_id,
    order_id,
    method as payment_method,
    card_brand,
    status as payment_status,
    amount as amount_usd,
    processor_fee as fee_usd,
    created_at as paid_at
from raw.payments
