-- One row per job: revenue (its active invoices' subtotal less discounts), material
-- cost (the totals of the purchase orders bought for it, tax and shipping included,
-- canceled orders excluded), labor cost (fct_job_labor) and what is left.
with materials as (
    select job_id, sum(total) as material_cost, count(*) as purchase_order_count
    from {{ ref('stg_inventory_purchase_orders') }}
    where job_id is not null and coalesce(status, '') not in ('Canceled', 'Cancelled')
    group by job_id
)

select
    jobs.job_id,
    jobs.job_number,
    jobs.business_unit_id,
    jobs.job_status,
    jobs.revenue,
    {{ money('coalesce(materials.material_cost, 0)') }} as material_cost,
    coalesce(materials.purchase_order_count, 0) as purchase_order_count,
    labor.labor_cost,
    jobs.revenue - {{ money('coalesce(materials.material_cost, 0)') }} - labor.labor_cost
        as gross_margin,
    case
        when jobs.revenue <> 0
            then cast(round(
                (jobs.revenue - {{ money('coalesce(materials.material_cost, 0)') }} - labor.labor_cost)
                / jobs.revenue, 4) as decimal(18, 4))
    end as gross_margin_ratio
from {{ ref('fct_jobs') }} as jobs
inner join {{ ref('fct_job_labor') }} as labor on labor.job_id = jobs.job_id
left join materials on materials.job_id = jobs.job_id
