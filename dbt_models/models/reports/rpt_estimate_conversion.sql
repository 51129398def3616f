-- Estimates per business unit and month created: how many were sold, and for how much.
select
    cast(date_trunc('month', estimates.created_at) as date) as month,
    estimates.business_unit_id,
    business_units.business_unit_name,
    count(*) as estimate_count,
    count(*) filter (where estimates.estimate_status = 'Sold') as sold_count,
    count(*) filter (where estimates.estimate_status = 'Dismissed') as dismissed_count,
    count(*) filter (where estimates.estimate_status = 'Open') as open_count,
    cast(
        count(*) filter (where estimates.estimate_status = 'Sold') / count(*) as decimal(18, 4)
    ) as conversion_rate,
    coalesce(sum(estimates.subtotal), 0) as quoted_amount,
    coalesce(sum(estimates.subtotal) filter (where estimates.estimate_status = 'Sold'), 0)
        as sold_amount
from {{ ref('stg_estimates') }} as estimates
left join {{ ref('stg_business_units') }} as business_units
    on business_units.business_unit_id = estimates.business_unit_id
where estimates.is_active
group by all
