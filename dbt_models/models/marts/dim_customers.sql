-- One row per customer: locations, the active membership, lifetime revenue and the
-- open balance of their invoices.
with locations as (
    select
        customer_id,
        count(*) as location_count,
        count(*) filter (where is_active) as active_location_count
    from {{ ref('stg_locations') }}
    group by customer_id
),

active_membership as (
    select customer_id, membership_id, membership_type_name, ends_at
    from {{ ref('fct_memberships') }}
    where is_current
    qualify row_number() over (partition by customer_id order by ends_at desc, membership_id) = 1
),

invoices as (
    select
        customer_id,
        sum(revenue) as lifetime_revenue,
        sum(balance) as open_balance,
        count(*) as invoice_count,
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as last_invoice_date
    from {{ ref('fct_invoices') }}
    where is_active
    group by customer_id
)

select
    customers.customer_id,
    customers.customer_name,
    customers.customer_type,
    customers.is_active,
    customers.city,
    customers.state,
    customers.zip,
    coalesce(locations.location_count, 0) as location_count,
    coalesce(locations.active_location_count, 0) as active_location_count,
    active_membership.membership_id as active_membership_id,
    active_membership.membership_type_name as active_membership_type,
    active_membership.ends_at as active_membership_ends_at,
    active_membership.membership_id is not null as is_member,
    coalesce(invoices.invoice_count, 0) as invoice_count,
    coalesce(invoices.lifetime_revenue, 0) as lifetime_revenue,
    coalesce(invoices.open_balance, 0) as open_balance,
    customers.balance as api_balance,
    invoices.first_invoice_date,
    invoices.last_invoice_date,
    customers.do_not_mail,
    customers.do_not_service,
    customers.created_at,
    customers.modified_at
from {{ ref('stg_customers') }} as customers
left join locations on locations.customer_id = customers.customer_id
left join active_membership on active_membership.customer_id = customers.customer_id
left join invoices on invoices.customer_id = customers.customer_id
