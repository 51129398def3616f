-- Active memberships up for renewal in the next 90 days, soonest first.
select
    memberships.renewal_window,
    memberships.ends_at as renews_at,
    memberships.days_until_renewal,
    memberships.membership_id,
    memberships.customer_id,
    customers.customer_name,
    memberships.membership_type_name,
    memberships.membership_price,
    memberships.billing_frequency,
    memberships.business_unit_id,
    business_units.business_unit_name,
    memberships.follow_up_status
from {{ ref('fct_memberships') }} as memberships
left join {{ ref('stg_customers') }} as customers
    on customers.customer_id = memberships.customer_id
left join {{ ref('stg_business_units') }} as business_units
    on business_units.business_unit_id = memberships.business_unit_id
where memberships.renewal_window is not null
