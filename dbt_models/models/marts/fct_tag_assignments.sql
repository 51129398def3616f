-- One row per tag of a record (customers, locations, jobs, leads...), with the tag's
-- name from the tag types (settings). A tag type not landed keeps its id, without name.
select
    tags.entity,
    tags.record_id,
    tags.tag_type_id,
    tag_types.name as tag_name,
    tag_types.code as tag_code,
    tag_types.importance as tag_importance,
    tag_types.is_conversion_opportunity,
    tag_types.active as tag_type_is_active
from {{ ref('stg_tag_assignments') }} as tags
left join {{ ref('stg_settings_tag_types') }} as tag_types on tag_types.id = tags.tag_type_id
