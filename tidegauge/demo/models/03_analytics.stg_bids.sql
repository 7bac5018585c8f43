-- analytics.stg_bids: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    bid_id,
    show_id,
    bidder_id as bidder_user_id,
    amount as bid_usd,
    is_winning,
    device,
    created_at as bid_at
from raw.bids
