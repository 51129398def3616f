-- Accounts receivable per customer, aged by days past the due date as of today (UTC):
-- the buckets of a customer add up to their open balance.
with open_invoices as (
    select
        customer_id,
        balance,
        coalesce(days_past_due, 0) as days_past_due,
        due_at is null or cast(due_at as date) >= current_date as is_current
    from {{ ref('fct_invoices') }}
    where is_active and balance <> 0
)

select
    current_date as as_of_date,
    open_invoices.customer_id,
    customers.customer_name,
    count(*) as open_invoice_count,
    coalesce(sum(open_invoices.balance) filter (where open_invoices.is_current), 0) as current_amount,
    coalesce(sum(open_invoices.balance) filter (where not open_invoices.is_current and open_invoices.days_past_due <= 30), 0) as past_due_1_30,
    coalesce(sum(open_invoices.balance) filter (where open_invoices.days_past_due between 31 and 60), 0) as past_due_31_60,
    coalesce(sum(open_invoices.balance) filter (where open_invoices.days_past_due between 61 and 90), 0) as past_due_61_90,
    coalesce(sum(open_invoices.balance) filter (where open_invoices.days_past_due > 90), 0) as past_due_over_90,
    sum(open_invoices.balance) as total_open_balance
from open_invoices
left join {{ ref('stg_customers') }} as customers
    on customers.customer_id = open_invoices.customer_id
group by all
