{{ config(materialized='table') }}
select c.customer_id, c.name, c.region, count(o.order_id) as order_count
from {{ ref('customers') }} c
left join {{ ref('stg_orders') }} o on o.customer_id = c.customer_id
group by c.customer_id, c.name, c.region
