DROP TABLE notifications;
DROP TABLE billings;
DROP TABLE medical_records;
DROP TABLE prescription_items;
DROP TABLE prescriptions;
DROP TYPE notification_type;
DROP TYPE billing_status;
DROP TYPE medical_record_type;
