-- One row per appointment: its window, whether the technician arrived on time, and who
-- was assigned.
with assignments as (
    select
        appointment_id,
        list(technician_id order by technician_id) as technician_ids,
        string_agg(technician_name, ', ' order by technician_name) as technician_names,
        count(*) as technician_count
    from {{ ref('stg_appointment_assignments') }}
    where is_active
    group by appointment_id
)

select
    appointments.appointment_id,
    appointments.appointment_number,
    appointments.job_id,
    appointments.customer_id,
    jobs.business_unit_id,
    appointments.appointment_status,
    appointments.starts_at,
    appointments.ends_at,
    cast(date_diff('minute', appointments.starts_at, appointments.ends_at) / 60 as decimal(18, 2))
        as scheduled_hours,
    appointments.arrival_window_start,
    appointments.arrival_window_end,
    appointments.arrived_at,
    case
        when appointments.arrived_at is null and appointments.appointment_status = 'Canceled'
            then 'canceled'
        when appointments.arrived_at is null then 'not_arrived'
        when appointments.arrival_window_end is null then 'no_window'
        when appointments.arrived_at <= appointments.arrival_window_end then 'on_time'
        else 'late'
    end as arrival_status,
    case
        when appointments.arrived_at > appointments.arrival_window_end
            then date_diff('minute', appointments.arrival_window_end, appointments.arrived_at)
        else 0
    end as minutes_late,
    assignments.technician_ids,
    assignments.technician_names,
    coalesce(assignments.technician_count, 0) as technician_count,
    appointments.is_confirmed,
    appointments.is_active,
    appointments.created_at,
    appointments.modified_at
from {{ ref('stg_appointments') }} as appointments
left join {{ ref('stg_jobs') }} as jobs on jobs.job_id = appointments.job_id
left join assignments on assignments.appointment_id = appointments.appointment_id
