{{ config(materialized='materialized_view', cluster='shop_prod',
          indexes=[{'columns': ['region']}, {'default': True}]) }}
select c.region, sum(o.amount) as revenue, count(*) as orders
from {{ ref('stg_orders') }} o
join {{ ref('customers') }} c on c.customer_id = o.customer_id
group by c.region
