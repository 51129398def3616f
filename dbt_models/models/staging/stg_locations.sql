select
    id as location_id,
    "customerId" as customer_id,
    name as location_name,
    active as is_active,
    address.street as street,
    address.unit as unit,
    address.city as city,
    address.state as state,
    address.zip as zip,
    address.latitude as latitude,
    address.longitude as longitude,
    "taxZoneId" as tax_zone_id,
    "zoneId" as zone_id,
    "taxExempt" as is_tax_exempt,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('locations') }}
