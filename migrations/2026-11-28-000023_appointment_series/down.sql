DROP TABLE appointment_series_members;
DROP TABLE appointment_series;
