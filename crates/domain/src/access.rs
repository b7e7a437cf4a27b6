//! Which roles may attempt an action at all, in one table.
//!
//! This is the first of two checks. The role check here is answered 403 `Forbidden` and runs
//! before anything else, including reading the request body, so a patient probing an admin
//! route learns nothing about what that route accepts. The second check, done by each use case
//! after loading the resource, is ownership ("is this my appointment?"), answered 404 so ids
//! cannot be probed.

use crate::error::DomainError;
use crate::identity::{Actor, Role};

/// An action some roles may never take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Create staff accounts, activate and deactivate users.
    ManageUsers,
    /// Register a patient on someone's behalf (the front desk).
    RegisterPatients,
    /// Change a patient's profile (the patient itself, the desk, admins; never a doctor).
    EditPatients,
    /// Change a doctor's profile (admins; a doctor its own).
    EditDoctors,
    /// Create and change departments, and assign doctors to them.
    ManageDepartments,
    /// Create and change weekly schedules (admins; a doctor its own).
    ManageSchedules,
    /// Book an appointment (a patient for itself, the desk for anyone; never a doctor).
    Book,
    /// Register an emergency walk-in without a slot.
    RegisterWalkIns,
    /// Write a prescription (the appointment's doctor).
    WritePrescriptions,
    /// Record a payment (the patient for its own bill, the desk for any).
    Pay,
    /// Refund a paid bill.
    Refund,
    /// Send a GENERAL notification to everyone or to one role.
    Broadcast,
    /// List patients (the desk and admins all; a doctor those it treats).
    ListPatients,
    /// List bills (the desk and admins all; a patient its own). Doctors do not handle money.
    ListBills,
    /// Read prescriptions (admins; a doctor its own; a patient its own). Never the desk.
    ReadPrescriptions,
    /// Search the audit log.
    SearchAudit,
    /// Hold a chat socket and count unread messages: patients and doctors, the only people a
    /// conversation can have (each conversation is still checked: see `domain::chat`).
    Chat,
    /// Read the dashboard: admins the clinic's, a doctor its own (`domain::analytics`).
    Analytics,
    /// Book and cancel a series of recurring visits (the desk and admins).
    BookSeries,
    /// See recorded time off (staff; a doctor its own and the clinic's holidays).
    ViewTimeOff,
    /// Register webhook endpoints and read their delivery logs (admins).
    ManageWebhooks,
    /// Issue and revoke a calendar feed (a doctor its own; admins may read and revoke).
    CalendarFeed,
    /// Choose which emails to get (patients: the emails it switches are all a patient's).
    EmailPreferences,
}

impl Permission {
    /// The roles that may attempt this action.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Doctor, Patient, Receptionist};
        match self {
            Self::ManageUsers
            | Self::ManageDepartments
            | Self::Refund
            | Self::Broadcast
            | Self::SearchAudit
            | Self::ManageWebhooks => &[Admin],
            Self::ListPatients | Self::ViewTimeOff => &[Admin, Receptionist, Doctor],
            Self::ListBills => &[Admin, Receptionist, Patient],
            Self::ReadPrescriptions => &[Admin, Doctor, Patient],
            Self::RegisterPatients | Self::RegisterWalkIns | Self::BookSeries => {
                &[Admin, Receptionist]
            }
            Self::EditPatients | Self::Book | Self::Pay => &[Admin, Receptionist, Patient],
            Self::EditDoctors | Self::ManageSchedules => &[Admin, Doctor],
            Self::WritePrescriptions => &[Doctor],
            Self::Chat => &[Doctor, Patient],
            Self::EmailPreferences => &[Patient],
            Self::Analytics | Self::CalendarFeed => &[Admin, Doctor],
        }
    }

    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }
}

impl Actor {
    /// `Forbidden` unless the actor's role may attempt `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        if permission.allows(self.role) {
            Ok(())
        } else {
            Err(DomainError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table_of_the_spec() {
        use Role::{Admin as A, Doctor as D, Patient as P, Receptionist as R};
        let cases: [(Permission, &[Role]); 22] = [
            (Permission::ListPatients, &[A, R, D]),
            (Permission::ListBills, &[A, R, P]),
            (Permission::ReadPrescriptions, &[A, D, P]),
            (Permission::SearchAudit, &[A]),
            (Permission::ManageUsers, &[A]),
            (Permission::RegisterPatients, &[A, R]),
            (Permission::EditPatients, &[A, R, P]),
            (Permission::EditDoctors, &[A, D]),
            (Permission::ManageDepartments, &[A]),
            (Permission::ManageSchedules, &[A, D]),
            (Permission::Book, &[A, R, P]),
            (Permission::RegisterWalkIns, &[A, R]),
            (Permission::WritePrescriptions, &[D]),
            (Permission::Pay, &[A, R, P]),
            (Permission::Refund, &[A]),
            (Permission::Broadcast, &[A]),
            (Permission::Chat, &[D, P]),
            (Permission::Analytics, &[A, D]),
            (Permission::ViewTimeOff, &[A, R, D]),
            (Permission::BookSeries, &[A, R]),
            (Permission::ManageWebhooks, &[A]),
            (Permission::CalendarFeed, &[A, D]),
        ];
        for (permission, allowed) in cases {
            for role in [A, D, R, P] {
                assert_eq!(
                    permission.allows(role),
                    allowed.contains(&role),
                    "{permission:?} for {role:?}"
                );
            }
        }
    }
}
