-- analytics.stg_users: a view of the demo warehouse (read by tidegauge/demo/sql.py)
select
    user_id,
    username,
    lower(email) as email,
    country as country_code,
    signup_platform,
    is_seller,
    referral_code,
    birth_year,
    marketing_opt_in,
    created_at as signed_up_at
from raw.users
