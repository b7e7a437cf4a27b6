// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "appointment_status"))]
    pub struct AppointmentStatus;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "appointment_type"))]
    pub struct AppointmentType;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "audit_action"))]
    pub struct AuditAction;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "billing_status"))]
    pub struct BillingStatus;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "day_of_week"))]
    pub struct DayOfWeek;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "gender"))]
    pub struct Gender;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "medical_record_type"))]
    pub struct MedicalRecordType;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "notification_type"))]
    pub struct NotificationType;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "user_role"))]
    pub struct UserRole;
}

diesel::table! {
    use diesel::sql_types::*;

    appointment_series (id) {
        id -> Uuid,
        patient_id -> Uuid,
        doctor_id -> Uuid,
        first_date -> Date,
        start_time -> Time,
        every_weeks -> Int4,
        occurrences -> Int4,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    appointment_series_members (appointment_id) {
        appointment_id -> Uuid,
        series_id -> Uuid,
        occurrence -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::AppointmentType;
    use super::sql_types::AppointmentStatus;

    appointments (id) {
        id -> Uuid,
        patient_id -> Uuid,
        doctor_id -> Uuid,
        time_slot_id -> Nullable<Uuid>,
        #[sql_name = "type"]
        type_ -> AppointmentType,
        status -> AppointmentStatus,
        reason -> Text,
        notes -> Nullable<Text>,
        #[max_length = 500]
        cancel_reason -> Nullable<Varchar>,
        consultation_fee -> Numeric,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::AuditAction;

    audit_outbox (id) {
        id -> Int8,
        user_id -> Nullable<Uuid>,
        action -> AuditAction,
        #[max_length = 40]
        entity -> Varchar,
        entity_id -> Nullable<Uuid>,
        changes -> Jsonb,
        #[max_length = 64]
        ip_address -> Nullable<Varchar>,
        #[max_length = 512]
        user_agent -> Nullable<Varchar>,
        occurred_at -> Timestamptz,
        shipped_at -> Nullable<Timestamptz>,
        event_id -> Uuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::BillingStatus;

    billings (id) {
        id -> Uuid,
        appointment_id -> Uuid,
        patient_id -> Uuid,
        amount -> Numeric,
        status -> BillingStatus,
        #[max_length = 30]
        payment_method -> Nullable<Varchar>,
        paid_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        due_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    calendar_feeds (doctor_id) {
        doctor_id -> Uuid,
        #[max_length = 64]
        token_hash -> Bpchar,
        include_patient_names -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    chat_conversations (appointment_id) {
        appointment_id -> Uuid,
        last_seq -> Int8,
        last_message_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    departments (id) {
        id -> Uuid,
        #[max_length = 120]
        name -> Varchar,
        description -> Nullable<Text>,
        is_active -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    doctor_booking_windows (doctor_id) {
        doctor_id -> Uuid,
        min_notice_hours -> Nullable<Int4>,
        max_advance_days -> Nullable<Int4>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    doctor_departments (doctor_id, department_id) {
        doctor_id -> Uuid,
        department_id -> Uuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    doctors (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 120]
        specialization -> Varchar,
        #[max_length = 200]
        qualification -> Varchar,
        experience_years -> Int4,
        #[max_length = 64]
        license_number -> Varchar,
        consultation_fee -> Numeric,
        is_available -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    email_outbox (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 32]
        kind -> Varchar,
        data -> Jsonb,
        #[max_length = 10]
        status -> Varchar,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        lease_owner -> Nullable<Uuid>,
        lease_until -> Nullable<Timestamptz>,
        #[max_length = 500]
        last_error -> Nullable<Varchar>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    email_preferences (user_id) {
        user_id -> Uuid,
        opted_out -> Array<Nullable<Text>>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    idempotency_keys (user_id, key) {
        user_id -> Uuid,
        #[max_length = 200]
        key -> Varchar,
        #[max_length = 64]
        request_hash -> Varchar,
        response_status -> Int2,
        response_body -> Jsonb,
        created_at -> Timestamptz,
        resource_id -> Nullable<Uuid>,
        locked_until -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::MedicalRecordType;

    medical_records (id) {
        id -> Uuid,
        patient_id -> Uuid,
        uploaded_by -> Uuid,
        #[sql_name = "type"]
        type_ -> MedicalRecordType,
        #[max_length = 200]
        title -> Varchar,
        description -> Nullable<Text>,
        #[max_length = 500]
        file_url -> Varchar,
        #[max_length = 100]
        content_type -> Varchar,
        size_bytes -> Int8,
        #[max_length = 255]
        file_name -> Varchar,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::NotificationType;

    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[sql_name = "type"]
        type_ -> NotificationType,
        #[max_length = 200]
        title -> Varchar,
        message -> Text,
        is_read -> Bool,
        created_at -> Timestamptz,
        appointment_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    password_resets (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 64]
        token_hash -> Bpchar,
        requested_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Gender;

    patients (id) {
        id -> Uuid,
        user_id -> Uuid,
        date_of_birth -> Nullable<Date>,
        gender -> Nullable<Gender>,
        #[max_length = 3]
        blood_group -> Nullable<Varchar>,
        address -> Nullable<Text>,
        #[max_length = 120]
        emergency_contact_name -> Nullable<Varchar>,
        #[max_length = 32]
        emergency_contact_phone -> Nullable<Varchar>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    prescription_items (id) {
        id -> Uuid,
        prescription_id -> Uuid,
        #[max_length = 200]
        medicine_name -> Varchar,
        #[max_length = 100]
        dosage -> Varchar,
        #[max_length = 100]
        frequency -> Varchar,
        #[max_length = 100]
        duration -> Varchar,
        instructions -> Nullable<Text>,
        position -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    prescriptions (id) {
        id -> Uuid,
        appointment_id -> Uuid,
        doctor_id -> Uuid,
        patient_id -> Uuid,
        diagnosis -> Text,
        notes -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::DayOfWeek;

    schedules (id) {
        id -> Uuid,
        doctor_id -> Uuid,
        day_of_week -> DayOfWeek,
        start_time -> Time,
        end_time -> Time,
        slot_duration_minutes -> Int4,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        buffer_minutes -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    time_off (id) {
        id -> Uuid,
        doctor_id -> Nullable<Uuid>,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        #[max_length = 200]
        reason -> Nullable<Varchar>,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    time_slots (id) {
        id -> Uuid,
        schedule_id -> Uuid,
        doctor_id -> Uuid,
        date -> Date,
        start_time -> Time,
        end_time -> Time,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        is_available -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::UserRole;

    users (id) {
        id -> Uuid,
        #[max_length = 254]
        email -> Varchar,
        #[max_length = 255]
        password_hash -> Varchar,
        #[max_length = 120]
        name -> Varchar,
        #[max_length = 32]
        phone -> Nullable<Varchar>,
        role -> UserRole,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    waitlist_entries (id) {
        id -> Uuid,
        patient_id -> Uuid,
        doctor_id -> Uuid,
        from_date -> Date,
        to_date -> Date,
        #[max_length = 16]
        part_of_day -> Nullable<Varchar>,
        earliest -> Time,
        latest -> Nullable<Time>,
        #[max_length = 16]
        status -> Varchar,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    waitlist_offers (id) {
        id -> Uuid,
        entry_id -> Uuid,
        patient_id -> Uuid,
        slot_id -> Uuid,
        #[max_length = 16]
        status -> Varchar,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    webhook_deliveries (id) {
        id -> Int8,
        endpoint_id -> Uuid,
        event_id -> Int8,
        #[max_length = 16]
        status -> Varchar,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        first_attempt_at -> Nullable<Timestamptz>,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        #[max_length = 500]
        last_error -> Nullable<Varchar>,
        delivered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    webhook_endpoints (id) {
        id -> Uuid,
        #[max_length = 2048]
        url -> Varchar,
        #[max_length = 200]
        description -> Nullable<Varchar>,
        #[max_length = 128]
        secret -> Varchar,
        event_types -> Array<Nullable<Text>>,
        is_active -> Bool,
        #[max_length = 300]
        disabled_reason -> Nullable<Varchar>,
        lease_owner -> Nullable<Uuid>,
        lease_until -> Nullable<Timestamptz>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    webhook_events (id) {
        id -> Int8,
        event_id -> Uuid,
        #[max_length = 40]
        event_type -> Varchar,
        data -> Jsonb,
        occurred_at -> Timestamptz,
    }
}

diesel::joinable!(appointment_series -> doctors (doctor_id));
diesel::joinable!(appointment_series -> patients (patient_id));
diesel::joinable!(appointment_series -> users (created_by));
diesel::joinable!(appointment_series_members -> appointment_series (series_id));
diesel::joinable!(appointment_series_members -> appointments (appointment_id));
diesel::joinable!(appointments -> doctors (doctor_id));
diesel::joinable!(appointments -> patients (patient_id));
diesel::joinable!(appointments -> time_slots (time_slot_id));
diesel::joinable!(billings -> appointments (appointment_id));
diesel::joinable!(billings -> patients (patient_id));
diesel::joinable!(calendar_feeds -> doctors (doctor_id));
diesel::joinable!(chat_conversations -> appointments (appointment_id));
diesel::joinable!(doctor_booking_windows -> doctors (doctor_id));
diesel::joinable!(doctor_departments -> departments (department_id));
diesel::joinable!(doctor_departments -> doctors (doctor_id));
diesel::joinable!(doctors -> users (user_id));
diesel::joinable!(email_outbox -> users (user_id));
diesel::joinable!(email_preferences -> users (user_id));
diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(medical_records -> patients (patient_id));
diesel::joinable!(medical_records -> users (uploaded_by));
diesel::joinable!(notifications -> appointments (appointment_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(patients -> users (user_id));
diesel::joinable!(prescription_items -> prescriptions (prescription_id));
diesel::joinable!(prescriptions -> appointments (appointment_id));
diesel::joinable!(prescriptions -> doctors (doctor_id));
diesel::joinable!(prescriptions -> patients (patient_id));
diesel::joinable!(schedules -> doctors (doctor_id));
diesel::joinable!(time_off -> doctors (doctor_id));
diesel::joinable!(time_off -> users (created_by));
diesel::joinable!(waitlist_entries -> doctors (doctor_id));
diesel::joinable!(waitlist_entries -> patients (patient_id));
diesel::joinable!(waitlist_entries -> users (created_by));
diesel::joinable!(waitlist_offers -> patients (patient_id));
diesel::joinable!(waitlist_offers -> time_slots (slot_id));
diesel::joinable!(waitlist_offers -> waitlist_entries (entry_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_endpoints -> users (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    appointment_series,
    appointment_series_members,
    appointments,
    audit_outbox,
    billings,
    calendar_feeds,
    chat_conversations,
    departments,
    doctor_booking_windows,
    doctor_departments,
    doctors,
    email_outbox,
    email_preferences,
    idempotency_keys,
    medical_records,
    notifications,
    password_resets,
    patients,
    prescription_items,
    prescriptions,
    schedules,
    time_off,
    time_slots,
    users,
    waitlist_entries,
    waitlist_offers,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
);
