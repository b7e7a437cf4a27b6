-- Prescription items come back in the order the doctor wrote them.
ALTER TABLE prescription_items ADD COLUMN position integer NOT NULL DEFAULT 0;
ALTER TABLE prescription_items ADD CONSTRAINT prescription_items_position_key UNIQUE (prescription_id, position);

-- Live delivery: every committed notification is announced on channel `notifications` as
-- "<user_id>:<notification_id>" (NOTIFY is delivered on commit only, so a rolled-back
-- notification is never announced). The payload stays tiny; listeners read the row.
CREATE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifications', NEW.user_id::text || ':' || NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_announce();
