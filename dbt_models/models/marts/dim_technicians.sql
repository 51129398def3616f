-- One row per technician: business unit, shift and the work assigned to them.
with assigned as (
    select
        technician_id,
        count(distinct appointment_id) as appointment_count,
        min(assigned_at) as first_assigned_at,
        max(assigned_at) as last_assigned_at
    from {{ ref('stg_appointment_assignments') }}
    where is_active
    group by technician_id
)

select
    technicians.technician_id,
    technicians.technician_name,
    technicians.business_unit_id,
    business_units.business_unit_name,
    business_units.trade,
    technicians.skill_names,
    technicians.shift_start,
    technicians.shift_end,
    technicians.shift_hours,
    technicians.hourly_rate,
    coalesce(assigned.appointment_count, 0) as appointment_count,
    assigned.first_assigned_at,
    assigned.last_assigned_at,
    technicians.is_active,
    technicians.modified_at
from {{ ref('stg_technicians') }} as technicians
left join {{ ref('stg_business_units') }} as business_units
    on business_units.business_unit_id = technicians.business_unit_id
left join assigned on assigned.technician_id = technicians.technician_id
