select
    id as membership_type_id,
    name as membership_type_name,
    "displayName" as display_name,
    active as is_active,
    "discountMode" as discount_mode,
    cast(discount as decimal(18, 4)) as discount_percent,
    "billingFrequency" as billing_frequency,
    {{ money('price') }} as price,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('membership_types') }}
