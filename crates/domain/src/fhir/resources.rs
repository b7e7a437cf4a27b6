//! The FHIR R4 (4.0.1) resources HealthSync serves, hand-written: only the elements it fills.
//!
//! Each struct serialises to the resource's JSON form (camelCase element names, `resourceType`
//! first, absent elements left out rather than `null`, which FHIR JSON forbids). Instants are
//! strings already in FHIR's `instant` form (RFC 3339 with seconds and a zone), built by
//! [`instant`], so nothing depends on how a serde backend writes dates.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// An `instant`: `2026-12-01T09:00:00Z` (seconds always present, UTC).
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `Reference`: a relative literal reference (`Practitioner/<id>`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirReference))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Practitioner/0b8f3c56-2a51-4c8e-9a39-3f0d1c2b7a10")
    )]
    pub reference: String,
}

impl Reference {
    pub fn to(resource_type: &str, id: uuid::Uuid) -> Self {
        Self {
            reference: format!("{resource_type}/{id}"),
        }
    }
}

/// `Coding`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirCoding))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coding {
    pub system: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// `CodeableConcept`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirCodeableConcept))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CodeableConcept {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `Meta`: when the resource last changed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirMeta))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[cfg_attr(feature = "openapi", schema(example = "2026-11-28T10:15:00Z"))]
    pub last_updated: String,
}

/// `Schedule`: one of a doctor's weekly rules (see [`super`] for why one per rule).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirSchedule))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Always `Schedule`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Schedule"))]
    pub resource_type: &'static str,
    pub id: String,
    /// False once the rule is deactivated: its slots that remain (booked ones) still point here.
    pub active: bool,
    /// The doctor: `Practitioner/<doctorId>`.
    pub actor: Vec<Reference>,
    /// The rule in words: `Mondays 09:00-12:00 (Europe/London), 30-minute slots`.
    pub comment: String,
}

/// `Slot`: one generated time slot.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirSlot))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    /// Always `Slot`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Slot"))]
    pub resource_type: &'static str,
    pub id: String,
    /// `Schedule/<scheduleId>`: the weekly rule that generated it (always readable).
    pub schedule: Reference,
    /// `free`, `busy`, `busy-unavailable` or `busy-tentative`.
    #[cfg_attr(feature = "openapi", schema(example = "free"))]
    pub status: &'static str,
    #[cfg_attr(feature = "openapi", schema(example = "2026-12-01T09:00:00Z"))]
    pub start: String,
    #[cfg_attr(feature = "openapi", schema(example = "2026-12-01T09:30:00Z"))]
    pub end: String,
}

/// `Appointment.participant`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirAppointmentParticipant))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<CodeableConcept>,
    pub actor: Reference,
    /// `required`.
    pub required: &'static str,
    /// `accepted`: both took part in booking it.
    pub status: &'static str,
}

/// `Appointment`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirAppointment))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Appointment {
    /// Always `Appointment`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Appointment"))]
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    /// `booked`, `arrived`, `fulfilled`, `cancelled` or `noshow` (see the module's table).
    #[cfg_attr(feature = "openapi", schema(example = "booked"))]
    pub status: &'static str,
    /// Why it was cancelled, as the canceller wrote it (cancelled ones only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelation_reason: Option<CodeableConcept>,
    /// HL7 v2 table 0276: ROUTINE, FOLLOWUP or EMERGENCY.
    pub appointment_type: CodeableConcept,
    /// The reason given at booking (what the rest of the API shows the same caller).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reason_code: Vec<CodeableConcept>,
    pub start: String,
    pub end: String,
    #[cfg_attr(feature = "openapi", schema(example = 30))]
    pub minutes_duration: u32,
    /// `Slot/<timeSlotId>`; none for a walk-in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slot: Vec<Reference>,
    /// When it was booked (`dateTime`).
    pub created: String,
    /// The doctor (`Practitioner/<doctorId>`) and the patient (`Patient/<patientId>`).
    pub participant: Vec<Participant>,
}

/// `Bundle.link`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirBundleLink))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleLink {
    /// `self` or `next`.
    pub relation: &'static str,
    pub url: String,
}

/// `Bundle.entry.search`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirEntrySearch))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrySearch {
    /// `match`.
    pub mode: &'static str,
}

/// A resource a search can return, with its type's name.
pub trait SearchResource: Serialize {
    const TYPE: &'static str;
    fn id(&self) -> &str;
}

impl SearchResource for Schedule {
    const TYPE: &'static str = "Schedule";
    fn id(&self) -> &str {
        &self.id
    }
}

impl SearchResource for Slot {
    const TYPE: &'static str = "Slot";
    fn id(&self) -> &str {
        &self.id
    }
}

impl SearchResource for Appointment {
    const TYPE: &'static str = "Appointment";
    fn id(&self) -> &str {
        &self.id
    }
}

/// One bundle type per resource type, so the OpenAPI document says exactly what each search
/// returns (a generic `Bundle<R>` would need utoipa's generics, which name schemas unstably).
macro_rules! searchset {
    ($(#[$doc:meta])* $bundle:ident, $entry:ident, $resource:ident, $schema:ident, $entry_schema:ident) => {
        $(#[$doc])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(as = $schema))]
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $bundle {
            /// Always `Bundle`.
            #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Bundle"))]
            pub resource_type: &'static str,
            /// Always `searchset`.
            #[serde(rename = "type")]
            #[cfg_attr(feature = "openapi", schema(value_type = String, example = "searchset"))]
            pub kind: &'static str,
            /// Every match, when known exactly (left out past 1,000 appointments).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub total: Option<u64>,
            /// `self`, and `next` while more pages follow.
            pub link: Vec<BundleLink>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub entry: Vec<$entry>,
        }

        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(as = $entry_schema))]
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $entry {
            /// The resource's absolute URL.
            pub full_url: String,
            pub resource: $resource,
            pub search: EntrySearch,
        }

        impl $bundle {
            /// A searchset of `resources` whose absolute URLs start with `base`
            /// (`https://host/fhir/R4`).
            pub fn new(
                base: &str,
                resources: Vec<$resource>,
                total: Option<u64>,
                self_url: String,
                next_url: Option<String>,
            ) -> Self {
                let mut link = vec![BundleLink { relation: "self", url: self_url }];
                if let Some(url) = next_url {
                    link.push(BundleLink { relation: "next", url });
                }
                Self {
                    resource_type: "Bundle",
                    kind: "searchset",
                    total,
                    link,
                    entry: resources
                        .into_iter()
                        .map(|resource| $entry {
                            full_url: format!(
                                "{base}/{}/{}",
                                <$resource as SearchResource>::TYPE,
                                resource.id()
                            ),
                            resource,
                            search: EntrySearch { mode: "match" },
                        })
                        .collect(),
                }
            }
        }
    };
}

searchset!(
    /// A `Bundle` of type `searchset` holding `Schedule`s.
    ScheduleBundle, ScheduleEntry, Schedule, FhirScheduleBundle, FhirScheduleEntry
);
searchset!(
    /// A `Bundle` of type `searchset` holding `Slot`s.
    SlotBundle, SlotEntry, Slot, FhirSlotBundle, FhirSlotEntry
);
searchset!(
    /// A `Bundle` of type `searchset` holding `Appointment`s.
    AppointmentBundle, AppointmentEntry, Appointment, FhirAppointmentBundle, FhirAppointmentEntry
);

/// `OperationOutcome.issue`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FhirIssue))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// `error` (or `fatal` for a failure of the server).
    pub severity: &'static str,
    /// FHIR's issue type: `invalid`, `login`, `forbidden`, `not-found`, `throttled`, ...
    #[cfg_attr(feature = "openapi", schema(example = "invalid"))]
    pub code: &'static str,
    /// The API's stable error code and what went wrong, for people.
    pub diagnostics: String,
    /// The search parameter that was wrong, when one was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

/// `OperationOutcome`: every error answer under `/fhir`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = OperationOutcome))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcome {
    /// Always `OperationOutcome`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "OperationOutcome"))]
    pub resource_type: &'static str,
    pub issue: Vec<Issue>,
}

impl OperationOutcome {
    /// One error issue; `expression` names the parameter at fault, if any.
    pub fn error(code: &'static str, diagnostics: String, expression: Option<String>) -> Self {
        Self {
            resource_type: "OperationOutcome",
            issue: vec![Issue {
                severity: if code == "exception" {
                    "fatal"
                } else {
                    "error"
                },
                code,
                diagnostics,
                expression: expression.into_iter().collect(),
            }],
        }
    }
}
