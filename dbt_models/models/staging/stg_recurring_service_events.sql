select
    id as recurring_service_event_id,
    "locationRecurringServiceId" as location_recurring_service_id,
    "locationRecurringServiceName" as location_recurring_service_name,
    "membershipId" as membership_id,
    "locationId" as location_id,
    status as event_status,
    {{ utc('date') }} as due_at,
    "jobId" as job_id,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('recurring_service_events') }}
