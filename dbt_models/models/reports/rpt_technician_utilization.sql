-- Booked hours against shift hours per technician per UTC day, over every weekday of the
-- appointment history and every day a technician was booked.
with booked as (
    select
        assignments.technician_id,
        cast(appointments.starts_at as date) as work_date,
        sum(appointments.scheduled_hours) as booked_hours,
        count(*) as appointment_count
    from {{ ref('stg_appointment_assignments') }} as assignments
    inner join {{ ref('fct_appointments') }} as appointments
        on appointments.appointment_id = assignments.appointment_id
    where assignments.is_active and appointments.appointment_status <> 'Canceled'
    group by all
),

days as (
    select cast(day as date) as work_date
    from range(
        (select min(work_date) from booked),
        (select max(work_date) from booked) + interval 1 day,
        interval 1 day
    ) as t(day)
),

technician_days as (
    select technicians.technician_id, days.work_date
    from {{ ref('dim_technicians') }} as technicians
    cross join days
    where technicians.is_active and isodow(days.work_date) between 1 and 5
    union
    select technician_id, work_date from booked
)

select
    technician_days.work_date,
    technician_days.technician_id,
    technicians.technician_name,
    technicians.business_unit_id,
    technicians.business_unit_name,
    technicians.shift_hours,
    coalesce(booked.booked_hours, 0) as booked_hours,
    coalesce(booked.appointment_count, 0) as appointment_count,
    cast(coalesce(booked.booked_hours, 0) / nullif(technicians.shift_hours, 0) as decimal(18, 4))
        as utilization
from technician_days
inner join {{ ref('dim_technicians') }} as technicians
    on technicians.technician_id = technician_days.technician_id
left join booked
    on booked.technician_id = technician_days.technician_id
    and booked.work_date = technician_days.work_date
