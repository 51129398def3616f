select
    id as customer_id,
    name as customer_name,
    type as customer_type,
    active as is_active,
    address.street as street,
    address.unit as unit,
    address.city as city,
    address.state as state,
    address.zip as zip,
    {{ money('balance') }} as balance,
    "taxExempt" as is_tax_exempt,
    "doNotMail" as do_not_mail,
    "doNotService" as do_not_service,
    "mergedToId" as merged_to_customer_id,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at,
    _loaded_at as loaded_at
from {{ latest_version('customers') }}
