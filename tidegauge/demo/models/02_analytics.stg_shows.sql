-- analytics.stg_shows: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    show_id,
    seller_id as seller_user_id,
    category,
    title,
    status as show_status,
    started_at,
    ended_at,
    date_diff('minute', started_at, ended_at) as duration_minutes,
    viewer_peak,
    is_featured,
    language
from raw.shows
