{{ config(meta={'dagster': {'ref': {'name': 'fct_payments'}}}) }}
-- (Attached to fct_payments in Dagster: a singular test on several models needs a home.)
-- Payment reconciliation: no invoice has more applied to it than its total, and no
-- payment is applied beyond its own total.
select 'invoice' as kind, invoice_id as id, total, applied_amount
from {{ ref('fct_invoices') }}
where applied_amount > total and total >= 0
union all
select 'payment', payment_id, total, applied_amount
from {{ ref('fct_payments') }}
where applied_amount > total
