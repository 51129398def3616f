select
    id as contact_id,
    "customerId" as customer_id,
    "locationId" as location_id,
    type as contact_type,
    value as contact_value,
    memo,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('contacts') }}
