select
    id as tax_zone_id,
    name as tax_zone_name,
    cast(coalesce(list_sum(list_transform(rates, lambda r: r."taxRate")), 0) as decimal(18, 4))
        as tax_rate_percent,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('tax_zones') }}
