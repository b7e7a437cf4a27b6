-- The dashboard's statement before the roll-up (issue 13, commit 66bd604): every figure counted
-- from the period's appointments. Kept as the baseline bench/analytics.py times beside the
-- roll-up. $1, $2: the period's instants; $3: the doctor or NULL; $4: the zone; $5, $6: the
-- period's first and last local day.
WITH a AS (
    SELECT id, status, doctor_id, patient_id, starts_at, created_at
    FROM appointments
    WHERE starts_at >= $1 AND starts_at < $2 AND ($3::uuid IS NULL OR doctor_id = $3)
)
SELECT json_build_object(
    'byStatus', (SELECT coalesce(json_object_agg(status, n), '{}')
                 FROM (SELECT status::text AS status, count(*) AS n FROM a GROUP BY 1) s),
    'byDay', (SELECT coalesce(json_object_agg(day, n), '{}')
              FROM (SELECT to_char((starts_at AT TIME ZONE $4)::date, 'YYYY-MM-DD') AS day,
                           count(*) AS n
                    FROM a GROUP BY 1) d),
    'byDepartment', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'count', n)
                                              ORDER BY n DESC, name, id), '[]')
                     FROM (SELECT dep.id, dep.name, count(*) AS n
                           FROM a
                           JOIN doctor_departments dd ON dd.doctor_id = a.doctor_id
                           JOIN departments dep ON dep.id = dd.department_id
                           GROUP BY dep.id, dep.name) x),
    'byDoctor', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'count', n)
                                          ORDER BY n DESC, name, id), '[]')
                 FROM (SELECT d.id, u.name, count(*) AS n
                       FROM a JOIN doctors d ON d.id = a.doctor_id JOIN users u ON u.id = d.user_id
                       GROUP BY d.id, u.name) x),
    'slotsGenerated', (SELECT count(*) FROM time_slots t
                       WHERE t.date BETWEEN $5 AND $6 AND ($3::uuid IS NULL OR t.doctor_id = $3)),
    'slotsBooked', (SELECT count(*) FROM time_slots t
                    WHERE t.date BETWEEN $5 AND $6 AND ($3::uuid IS NULL OR t.doctor_id = $3)
                      AND NOT t.is_available),
    'revenue', (SELECT json_build_object(
                    'paid', coalesce(sum(b.amount) FILTER (WHERE b.status = 'PAID'), 0)::text,
                    'outstanding', coalesce(sum(b.amount)
                                   FILTER (WHERE b.status IN ('PENDING', 'OVERDUE')), 0)::text,
                    'overdue', coalesce(sum(b.amount) FILTER (WHERE b.status = 'OVERDUE'), 0)::text,
                    'refunded', coalesce(sum(b.amount) FILTER (WHERE b.status = 'REFUNDED'), 0)::text)
                -- One index lookup per appointment (at most one bill each; LIMIT keeps the
                -- planner from turning it into a join that hashes every bill there is).
                FROM a CROSS JOIN LATERAL (SELECT amount, status FROM billings
                                           WHERE appointment_id = a.id LIMIT 1) b),
    'newPatients', CASE WHEN $3::uuid IS NULL
        THEN (SELECT count(*) FROM users u
              WHERE u.role = 'PATIENT' AND u.created_at >= $1 AND u.created_at < $2)
        ELSE (SELECT count(*) FROM (SELECT patient_id FROM appointments WHERE doctor_id = $3
                                    GROUP BY patient_id
                                    HAVING min(starts_at) >= $1 AND min(starts_at) < $2) f)
        END,
    'medianLeadSeconds', (SELECT percentile_cont(0.5) WITHIN GROUP
                              (ORDER BY extract(epoch FROM starts_at - created_at))
                          FROM a)
)::text AS doc
