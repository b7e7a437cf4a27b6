//! PostgreSQL enum types <-> domain enums. Each database enum gets a local mirror type that
//! diesel can bind and load, converted to and from the domain's enum.

use std::io::Write;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};

use crate::schema::sql_types;

macro_rules! pg_enum {
    ($local:ident, $sql:ty, $domain:ty, { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = $sql)]
        pub enum $local { $($variant),+ }

        impl ToSql<$sql, Pg> for $local {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(match self { $(Self::$variant => $text.as_bytes()),+ })?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, Pg> for $local {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                match bytes.as_bytes() {
                    $(b if b == $text.as_bytes() => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} value {:?}", stringify!($local), String::from_utf8_lossy(other)).into()),
                }
            }
        }

        impl From<$domain> for $local {
            fn from(value: $domain) -> Self {
                match value { $(<$domain>::$variant => Self::$variant),+ }
            }
        }

        impl From<$local> for $domain {
            fn from(value: $local) -> Self {
                match value { $($local::$variant => Self::$variant),+ }
            }
        }
    };
}

pg_enum!(PgRole, sql_types::UserRole, domain::identity::Role, {
    Admin => "ADMIN", Doctor => "DOCTOR", Receptionist => "RECEPTIONIST", Patient => "PATIENT",
});

pg_enum!(PgGender, sql_types::Gender, domain::directory::Gender, {
    Male => "MALE", Female => "FEMALE", Other => "OTHER",
});

pg_enum!(PgAuditAction, sql_types::AuditAction, domain::audit::AuditAction, {
    Create => "CREATE", Update => "UPDATE", Delete => "DELETE", Login => "LOGIN", Logout => "LOGOUT",
});

pg_enum!(PgDayOfWeek, sql_types::DayOfWeek, domain::scheduling::DayOfWeek, {
    Mon => "MON", Tue => "TUE", Wed => "WED", Thu => "THU", Fri => "FRI", Sat => "SAT", Sun => "SUN",
});

pg_enum!(PgAppointmentType, sql_types::AppointmentType, domain::appointments::AppointmentType, {
    Consultation => "CONSULTATION", FollowUp => "FOLLOW_UP", Emergency => "EMERGENCY",
});

pg_enum!(PgAppointmentStatus, sql_types::AppointmentStatus, domain::appointments::AppointmentStatus, {
    Scheduled => "SCHEDULED", Confirmed => "CONFIRMED", InProgress => "IN_PROGRESS",
    Completed => "COMPLETED", Cancelled => "CANCELLED", NoShow => "NO_SHOW",
});

pg_enum!(PgNotificationType, sql_types::NotificationType, domain::notifications::NotificationType, {
    BookingConfirmation => "BOOKING_CONFIRMATION", Reminder => "REMINDER", Prescription => "PRESCRIPTION",
    Payment => "PAYMENT", General => "GENERAL",
});

pg_enum!(PgBillingStatus, sql_types::BillingStatus, domain::billing::BillingStatus, {
    Pending => "PENDING", Paid => "PAID", Overdue => "OVERDUE", Refunded => "REFUNDED",
});

pg_enum!(PgMedicalRecordType, sql_types::MedicalRecordType, domain::medical_records::RecordType, {
    Prescription => "PRESCRIPTION", LabReport => "LAB_REPORT", Imaging => "IMAGING",
    ClinicalNote => "CLINICAL_NOTE",
});
