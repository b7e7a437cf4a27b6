DROP TRIGGER notifications_announce ON notifications;
DROP FUNCTION notifications_announce();
ALTER TABLE prescription_items DROP CONSTRAINT prescription_items_position_key;
ALTER TABLE prescription_items DROP COLUMN position;
