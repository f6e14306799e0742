DROP TABLE IF EXISTS bench_product, bench_order, bench_line, bench_outbox;
CREATE TABLE bench_product (id int PRIMARY KEY, stock int NOT NULL CHECK (stock >= 0));
INSERT INTO bench_product SELECT g, 100000000 FROM generate_series(1, 30) g;
CREATE TABLE bench_order (id bigserial PRIMARY KEY, customer_id int, status text, total numeric(12, 2), created_at timestamptz);
CREATE TABLE bench_line (id bigserial PRIMARY KEY, order_id bigint REFERENCES bench_order, sku text, quantity int, price numeric(10, 2));
CREATE TABLE bench_outbox (id uuid PRIMARY KEY, type text, payload jsonb, created_at timestamptz);
