-- One row per job: what its labor cost (payroll gross pay items) and how long its
-- technicians spent on it (job timesheets). Labor cost is the sum of `amount` of the
-- job's active gross pay items; paid hours their `paidDurationHours`. On-site time is
-- arrival to done, travel dispatch to arrival, over the job's active timesheets.
with pay as (
    select
        job_id,
        sum(amount) as labor_cost,
        sum(paid_duration_hours) as paid_hours,
        count(*) as gross_pay_item_count
    from {{ ref('stg_payroll_gross_pay_items') }}
    where active and job_id is not null
    group by job_id
),

timesheets as (
    select
        job_id,
        count(*) as timesheet_count,
        count(distinct technician_id) as technician_count,
        coalesce(sum(date_diff('second', arrived_on, done_on)), 0) as on_site_seconds,
        coalesce(sum(date_diff('second', dispatched_on, arrived_on)), 0) as travel_seconds
    from {{ ref('stg_payroll_jobs_timesheets') }}
    where active and job_id is not null
    group by job_id
)

select
    jobs.job_id,
    jobs.job_number,
    jobs.business_unit_id,
    jobs.job_status,
    {{ money('coalesce(pay.labor_cost, 0)') }} as labor_cost,
    cast(coalesce(pay.paid_hours, 0) as decimal(18, 4)) as paid_hours,
    coalesce(pay.gross_pay_item_count, 0) as gross_pay_item_count,
    coalesce(timesheets.timesheet_count, 0) as timesheet_count,
    coalesce(timesheets.technician_count, 0) as technician_count,
    coalesce(timesheets.on_site_seconds, 0) as on_site_seconds,
    cast(round(coalesce(timesheets.on_site_seconds, 0) / 3600, 4) as decimal(18, 4)) as on_site_hours,
    coalesce(timesheets.travel_seconds, 0) as travel_seconds,
    cast(round(coalesce(timesheets.travel_seconds, 0) / 3600, 4) as decimal(18, 4)) as travel_hours
from {{ ref('stg_jobs') }} as jobs
left join pay on pay.job_id = jobs.job_id
left join timesheets on timesheets.job_id = jobs.job_id
