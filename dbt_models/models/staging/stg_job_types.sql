select
    id as job_type_id,
    name as job_type_name,
    "businessUnitIds" as business_unit_ids,
    skills as skill_names,
    priority,
    duration as duration_minutes,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('job_types') }}
