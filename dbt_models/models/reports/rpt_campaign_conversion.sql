-- One row per marketing campaign: its calls, how many of the lead calls were booked,
-- its leads and bookings, the jobs attributed to it and their revenue. A lead call is a
-- call of type Booked or Unbooked (ServiceTitan's definition); call_booking_rate is
-- booked calls over lead calls. Revenue is the revenue of the campaign's jobs' active
-- invoices (subtotal less discounts).
with calls as (
    select
        campaign.id as campaign_id,
        count(*) as calls,
        count(*) filter (where type in ('Booked', 'Unbooked')) as lead_calls,
        count(*) filter (where type = 'Booked') as booked_calls
    from {{ ref('stg_telecom_calls') }}
    where active and campaign.id is not null
    group by 1
),

leads as (
    select
        campaign_id,
        count(*) as leads,
        count(*) filter (where status = 'Converted') as converted_leads
    from {{ ref('stg_crm_leads') }}
    where active
    group by 1
),

bookings as (
    select campaign_id, count(*) as bookings
    from {{ ref('stg_crm_bookings') }}
    where active and campaign_id is not null
    group by 1
),

jobs as (
    select campaign_id, count(*) as jobs, sum(revenue) as revenue
    from {{ ref('fct_jobs') }}
    where is_active and campaign_id is not null
    group by 1
)

select
    campaigns.id as campaign_id,
    campaigns.name as campaign_name,
    campaigns.category.name as category_name,
    campaigns.active as is_active,
    coalesce(calls.calls, 0) as calls,
    coalesce(calls.lead_calls, 0) as lead_calls,
    coalesce(calls.booked_calls, 0) as booked_calls,
    case
        when calls.lead_calls > 0
            then cast(round(calls.booked_calls / calls.lead_calls, 4) as decimal(9, 4))
    end as call_booking_rate,
    coalesce(leads.leads, 0) as leads,
    coalesce(leads.converted_leads, 0) as converted_leads,
    coalesce(bookings.bookings, 0) as bookings,
    coalesce(jobs.jobs, 0) as jobs,
    coalesce(jobs.revenue, 0) as revenue
from {{ ref('stg_marketing_campaigns') }} as campaigns
left join calls on calls.campaign_id = campaigns.id
left join leads on leads.campaign_id = campaigns.id
left join bookings on bookings.campaign_id = campaigns.id
left join jobs on jobs.campaign_id = campaigns.id
