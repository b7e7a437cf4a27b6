DROP TABLE doctor_booking_windows;
