-- pgbench script: the statements a booking transaction runs (lock the slot, is it inside time
-- off, is it held by a waitlist offer, read the doctor, read the patient, insert the appointment, take the slot, two notifications, the audit outbox
-- row, the webhook outbox statement (issue 15; no endpoint subscribes in the benchmark, as in the
-- HTTP run), the email outbox statement (issue 16: the patient's confirmation)), on a random free slot of the benchmark's pool, each statement finding its rows by the
-- slot number. It ends in ROLLBACK so every run books the same free slots: the ceiling of what
-- PostgreSQL itself does for this transaction on this machine, without HTTP, JSON or Redis.
\set n random(1, :slots)
\set p random(1, :patients)
BEGIN;
SELECT s.doctor_id, s.date, s.starts_at, s.ends_at, s.is_available
  FROM time_slots s WHERE s.id = (SELECT id FROM bench_slots WHERE n = :n) FOR UPDATE;
SELECT EXISTS (SELECT 1 FROM time_off t
                WHERE (t.doctor_id = s.doctor_id OR t.doctor_id IS NULL)
                  AND t.starts_at < s.ends_at AND t.ends_at > s.starts_at)
  FROM time_slots s WHERE s.id = (SELECT id FROM bench_slots WHERE n = :n);
SELECT patient_id FROM waitlist_offers
 WHERE slot_id = (SELECT id FROM bench_slots WHERE n = :n) AND status = 'OPEN' AND expires_at > now();
SELECT d.consultation_fee, d.is_available, u.is_active, u.id
  FROM doctors d JOIN users u ON u.id = d.user_id
 WHERE d.id = (SELECT doctor_id FROM time_slots WHERE id = (SELECT id FROM bench_slots WHERE n = :n));
SELECT user_id FROM patients WHERE id = (SELECT id FROM bench_patients WHERE n = :p);
INSERT INTO appointments (id, patient_id, doctor_id, time_slot_id, type, reason, consultation_fee, starts_at, ends_at)
SELECT gen_random_uuid(), (SELECT id FROM bench_patients WHERE n = :p), s.doctor_id, s.id, 'CONSULTATION', 'bench',
       (SELECT consultation_fee FROM doctors WHERE id = s.doctor_id), s.starts_at, s.ends_at
  FROM time_slots s WHERE s.id = (SELECT id FROM bench_slots WHERE n = :n);
UPDATE time_slots SET is_available = false WHERE id = (SELECT id FROM bench_slots WHERE n = :n);
INSERT INTO notifications (user_id, type, title, message, appointment_id)
SELECT u, 'BOOKING_CONFIRMATION', 'Appointment booked', 'bench', a.id
  FROM appointments a, unnest(ARRAY[(SELECT user_id FROM patients WHERE id = a.patient_id),
                                    (SELECT user_id FROM doctors WHERE id = a.doctor_id)]) AS u
 WHERE a.time_slot_id = (SELECT id FROM bench_slots WHERE n = :n) AND a.status <> 'CANCELLED';
INSERT INTO audit_outbox (action, entity, changes) VALUES ('CREATE', 'appointment', '{"after": {}}');
WITH subscribed AS (
    SELECT id FROM webhook_endpoints
     WHERE (is_active OR disabled_reason IS NOT NULL) AND 'appointment.booked' = ANY (event_types)
), event AS (
    INSERT INTO webhook_events (event_type, data)
    SELECT 'appointment.booked', '{}'::jsonb WHERE EXISTS (SELECT 1 FROM subscribed)
    RETURNING id
)
INSERT INTO webhook_deliveries (endpoint_id, event_id)
SELECT subscribed.id, event.id FROM subscribed CROSS JOIN event;
INSERT INTO email_outbox (user_id, kind, data)
SELECT u.id, 'BOOKING_CONFIRMATION', '{"kind": "BOOKING_CONFIRMATION", "visits": []}'::jsonb
  FROM patients p JOIN users u ON u.id = p.user_id
 WHERE p.id = (SELECT id FROM bench_patients WHERE n = :p) AND u.is_active
   AND NOT EXISTS (SELECT 1 FROM email_preferences ep
                    WHERE ep.user_id = u.id AND ep.opted_out @> ARRAY['BOOKING_CONFIRMATION']);
ROLLBACK;
