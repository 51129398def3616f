select
    id as appointment_id,
    "jobId" as job_id,
    "customerId" as customer_id,
    "appointmentNumber" as appointment_number,
    {{ utc('start') }} as starts_at,
    {{ utc('"end"') }} as ends_at,
    {{ utc('"arrivalWindowStart"') }} as arrival_window_start,
    {{ utc('"arrivalWindowEnd"') }} as arrival_window_end,
    {{ utc('"arrivedOn"') }} as arrived_at,
    status as appointment_status,
    "specialInstructions" as special_instructions,
    unused as is_unused,
    "isConfirmed" as is_confirmed,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('appointments') }}
