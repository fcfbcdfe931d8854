-- singular test: the maintained revenue adds up to the kept orders' amounts (rows returned = failures)
select total.amount, maintained.revenue
from (select sum(amount) as amount from {{ ref('stg_orders') }}) total,
     (select sum(revenue) as revenue from {{ ref('revenue_by_region') }}) maintained
where total.amount <> maintained.revenue
