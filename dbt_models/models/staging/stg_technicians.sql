-- Shift times are local wall-clock times of a daily shift; shift_hours is their length
-- (a night shift ends the next day, hence the modulo).
select
    id as technician_id,
    "userId" as user_id,
    name as technician_name,
    "businessUnitId" as business_unit_id,
    email,
    "phoneNumber" as phone_number,
    list_transform(skills, lambda s: s.name) as skill_names,
    cast("shiftStart" as time) as shift_start,
    cast("shiftEnd" as time) as shift_end,
    cast(
        ((date_diff('minute', cast("shiftStart" as time), cast("shiftEnd" as time)) + 1440) % 1440)
        / 60
        as decimal(18, 2)
    ) as shift_hours,
    {{ money('"hourlyRate"') }} as hourly_rate,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('technicians') }}
