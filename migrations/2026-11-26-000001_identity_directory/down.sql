DROP TABLE doctor_departments;
DROP TABLE departments;
DROP TABLE doctors;
DROP TABLE patients;
DROP TABLE users;
DROP TYPE gender;
DROP TYPE user_role;
DROP FUNCTION set_updated_at();
DROP EXTENSION IF EXISTS btree_gist;
