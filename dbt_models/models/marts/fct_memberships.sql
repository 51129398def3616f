-- One row per membership, with its renewal window: active memberships ending in the
-- next 30, 60 or 90 days (UTC dates).
with memberships as (
    select
        memberships.*,
        date_diff('day', current_date, cast(memberships.ends_at as date)) as days_until_renewal
    from {{ ref('stg_memberships') }} as memberships
)

select
    memberships.membership_id,
    memberships.customer_id,
    memberships.location_id,
    memberships.business_unit_id,
    memberships.membership_type_id,
    types.membership_type_name,
    types.price as membership_price,
    memberships.membership_status,
    memberships.membership_status = 'Active' as is_current,
    memberships.follow_up_status,
    memberships.billing_frequency,
    memberships.starts_at,
    memberships.ends_at,
    memberships.next_scheduled_bill_at,
    memberships.cancelled_at,
    memberships.days_until_renewal,
    case
        when memberships.membership_status <> 'Active' or memberships.days_until_renewal < 0
            then null
        when memberships.days_until_renewal <= 30 then '0-30'
        when memberships.days_until_renewal <= 60 then '31-60'
        when memberships.days_until_renewal <= 90 then '61-90'
    end as renewal_window,
    memberships.is_active,
    memberships.modified_at
from memberships
left join {{ ref('stg_membership_types') }} as types
    on types.membership_type_id = memberships.membership_type_id
