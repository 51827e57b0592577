-- The outbox in the sqlite3 shell, from the repository's root:
--   rm -f /tmp/outbox-demo.db && sqlite3 /tmp/outbox-demo.db < examples/outbox.sql
-- (trigger_wait needs a database file, not :memory:)
.load ./target/release/libsqlite_triggers
.bail on

CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL, qty INTEGER);

-- Record every change of orders, from any connection, as plain-SQL triggers.
SELECT trigger_capture('orders');

INSERT INTO orders (item, qty) VALUES ('tea', 2);
UPDATE orders SET qty = 3 WHERE id = 1;

-- Or emit events yourself, from SQL or from a trigger body.
CREATE TABLE shipment (order_id INTEGER, carrier TEXT);
CREATE TRIGGER shipment_event AFTER INSERT ON shipment BEGIN
  SELECT trigger_emit('shipping', json_object('order', new.order_id, 'carrier', new.carrier));
END;
INSERT INTO shipment VALUES (1, 'post');

-- A consumer reads what it has not processed yet, then acknowledges it.
.mode list
SELECT 'event', seq, channel, payload FROM trigger_outbox
  WHERE seq > trigger_cursor('mailer') ORDER BY seq;
SELECT 'mailer at', trigger_ack('mailer', 3);

-- Events every consumer has acknowledged can be pruned.
SELECT 'pruned', trigger_prune();

-- Block until an event after seq 3 is committed (by any process), here at
-- most 200 ms: NULL, as nothing else writes.
SELECT 'waited', coalesce(trigger_wait(3, 200), 'timed out');

SELECT 'uncapture', trigger_uncapture('orders');
