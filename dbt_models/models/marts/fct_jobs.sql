-- One row per job: status, business unit, job type, first appointment, completion time
-- and the revenue of its invoices.
with first_appointments as (
    select job_id, min(starts_at) as first_appointment_at
    from {{ ref('stg_appointments') }}
    where appointment_status <> 'Canceled'
    group by job_id
),

invoiced as (
    select job_id, sum(revenue) as revenue, sum(total) as invoiced_total, count(*) as invoice_count
    from {{ ref('fct_invoices') }}
    where is_active and job_id is not null
    group by job_id
)

select
    jobs.job_id,
    jobs.job_number,
    jobs.customer_id,
    jobs.location_id,
    jobs.job_status,
    jobs.business_unit_id,
    business_units.business_unit_name,
    jobs.job_type_id,
    job_types.job_type_name,
    jobs.priority,
    jobs.campaign_id,
    jobs.membership_id,
    jobs.created_from_estimate_id,
    jobs.created_at,
    first_appointments.first_appointment_at,
    jobs.completed_at,
    cast(date_diff('minute', first_appointments.first_appointment_at, jobs.completed_at) / 60
        as decimal(18, 2)) as hours_first_appointment_to_completion,
    cast(date_diff('minute', jobs.created_at, jobs.completed_at) / 1440
        as decimal(18, 2)) as days_created_to_completion,
    jobs.invoice_id,
    coalesce(invoiced.invoice_count, 0) as invoice_count,
    coalesce(invoiced.revenue, 0) as revenue,
    coalesce(invoiced.invoiced_total, 0) as invoiced_total,
    jobs.is_active,
    jobs.modified_at
from {{ ref('stg_jobs') }} as jobs
left join {{ ref('stg_business_units') }} as business_units
    on business_units.business_unit_id = jobs.business_unit_id
left join {{ ref('stg_job_types') }} as job_types on job_types.job_type_id = jobs.job_type_id
left join first_appointments on first_appointments.job_id = jobs.job_id
left join invoiced on invoiced.job_id = jobs.job_id
