select
    id as category_id,
    name as category_name,
    active as is_active,
    "parentId" as parent_category_id,
    "categoryType" as category_type,
    "businessUnitIds" as business_unit_ids,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('pricebook_categories') }}
