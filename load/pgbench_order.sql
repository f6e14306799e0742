-- The database work of one order, as pgbench sees it: take stock from 3 products, insert the
-- order, its 3 lines and its outbox message, in one transaction. The machine's ceiling.
\set p1 random(1, 10)
\set p2 random(11, 20)
\set p3 random(21, 30)
BEGIN;
UPDATE bench_product SET stock = stock - 1 WHERE id = :p1 AND stock >= 1;
UPDATE bench_product SET stock = stock - 1 WHERE id = :p2 AND stock >= 1;
UPDATE bench_product SET stock = stock - 1 WHERE id = :p3 AND stock >= 1;
INSERT INTO bench_order (customer_id, status, total, created_at) VALUES (:client_id, 'pending_shipment', 30.00, now()) RETURNING id \gset
INSERT INTO bench_line (order_id, sku, quantity, price) VALUES (:id, 'A', 1, 10.00), (:id, 'B', 1, 10.00), (:id, 'C', 1, 10.00);
INSERT INTO bench_outbox (id, type, payload, created_at) VALUES (gen_random_uuid(), 'order.created', '{"order": 1}', now());
COMMIT;
