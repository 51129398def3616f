select
    id as estimate_id,
    "jobId" as job_id,
    "locationId" as location_id,
    "customerId" as customer_id,
    name as estimate_name,
    status.name as estimate_status,
    "reviewStatus" as review_status,
    {{ utc('"soldOn"') }} as sold_at,
    "soldBy" as sold_by_technician_id,
    {{ money('subtotal') }} as subtotal,
    {{ money('tax') }} as tax,
    "businessUnitId" as business_unit_id,
    "businessUnitName" as business_unit_name,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('estimates') }}
