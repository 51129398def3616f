select
    id as payment_id,
    type as payment_type,
    "referenceNumber" as reference_number,
    "checkNumber" as check_number,
    memo,
    {{ utc('date') }} as paid_at,
    {{ money('total') }} as total,
    {{ money('"unappliedAmount"') }} as unapplied_amount,
    customer.id as customer_id,
    "businessUnit".id as business_unit_id,
    active as is_active,
    {{ utc('"createdOn"') }} as created_at,
    {{ utc('"modifiedOn"') }} as modified_at
from {{ latest_version('payments') }}
