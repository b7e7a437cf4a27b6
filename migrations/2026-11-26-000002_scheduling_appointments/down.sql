DROP TABLE appointments;
DROP TABLE time_slots;
DROP TABLE schedules;
DROP TYPE appointment_status;
DROP TYPE appointment_type;
DROP TYPE day_of_week;
