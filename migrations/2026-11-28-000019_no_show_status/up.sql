-- Issue 14: NO_SHOW, an addition to the seed's appointment_status: the patient did not come.
-- The doctor or the desk records it from the start plus a grace period (NO_SHOW_GRACE_MINUTES);
-- the slot stays taken (the time was lost) and a no-show fee may be billed (NO_SHOW_FEE). A new
-- enum value cannot be used in the transaction that adds it: the roll-up counts it in 000020.
ALTER TYPE appointment_status ADD VALUE 'NO_SHOW';
