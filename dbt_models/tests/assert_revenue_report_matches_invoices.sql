{{ config(meta={'dagster': {'ref': {'name': 'rpt_revenue_by_business_unit_daily'}}}) }}
-- (Attached to rpt_revenue_by_business_unit_daily in Dagster: a singular test on several models needs a home.)
-- The revenue report loses no invoice: its grand total is the revenue of the dated, active invoices.
select report.revenue, invoices.revenue
from (select coalesce(sum(revenue), 0) as revenue from {{ ref('rpt_revenue_by_business_unit_daily') }}) as report,
     (select coalesce(sum(revenue), 0) as revenue from {{ ref('fct_invoices') }}
      where is_active and invoice_date is not null) as invoices
where report.revenue <> invoices.revenue
