select
    id as installed_equipment_id,
    "equipmentId" as equipment_sku_id,
    "locationId" as location_id,
    "customerId" as customer_id,
    name as equipment_name,
    {{ utc('"installedOn"') }} as installed_at,
    "serialNumber" as serial_number,
    manufacturer,
    model,
    {{ money('cost') }} as cost,
    status as equipment_status,
    {{ utc('"manufacturerWarrantyEnd"') }} as manufacturer_warranty_end,
    {{ utc('"serviceProviderWarrantyEnd"') }} as service_provider_warranty_end,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('installed_equipment') }}
