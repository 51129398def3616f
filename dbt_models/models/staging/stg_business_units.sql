select
    id as business_unit_id,
    name as business_unit_name,
    "officialName" as official_name,
    trade,
    branch,
    email,
    "phoneNumber" as phone_number,
    currency,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('business_units') }}
