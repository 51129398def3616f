select
    id as sku_id,
    code as sku_code,
    "displayName" as display_name,
    description,
    {{ money('price') }} as price,
    {{ money('"memberPrice"') }} as member_price,
    {{ money('cost') }} as cost,
    taxable as is_taxable,
    manufacturer,
    model,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('pricebook_equipment') }}
