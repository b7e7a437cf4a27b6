//! The `CapabilityStatement` at `/fhir/R4/metadata`: what this server does, built from the same
//! parameter lists the searches parse ([`super::search`]), so it cannot promise a parameter the
//! server refuses.

use serde::Serialize;

use super::search::{AppointmentSearch, ScheduleSearch, SlotSearch};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilitySoftware {
    pub name: &'static str,
    pub version: &'static str,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityImplementation {
    pub description: &'static str,
    /// The base URL of this FHIR endpoint.
    pub url: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityInteraction {
    /// `read` or `search-type`.
    pub code: &'static str,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilitySearchParam {
    pub name: &'static str,
    /// `reference`, `date`, `token` or `number`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub documentation: &'static str,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityResource {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub interaction: Vec<CapabilityInteraction>,
    pub search_param: Vec<CapabilitySearchParam>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilitySecurity {
    pub cors: bool,
    pub description: &'static str,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityRest {
    /// `server`.
    pub mode: &'static str,
    pub security: CapabilitySecurity,
    pub resource: Vec<CapabilityResource>,
}

/// `CapabilityStatement` (kind `instance`: this server as deployed).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatement {
    /// Always `CapabilityStatement`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "CapabilityStatement"))]
    pub resource_type: &'static str,
    pub status: &'static str,
    /// When this statement was last changed (it changes with the code).
    pub date: &'static str,
    pub kind: &'static str,
    pub software: CapabilitySoftware,
    pub implementation: CapabilityImplementation,
    #[cfg_attr(feature = "openapi", schema(example = "4.0.1"))]
    pub fhir_version: &'static str,
    pub format: Vec<&'static str>,
    pub rest: Vec<CapabilityRest>,
}

/// Each search parameter's FHIR type and what it does here.
fn param(name: &'static str) -> CapabilitySearchParam {
    let (kind, documentation) = match name {
        "patient" => ("reference", "Patient/<id> (or the bare id): that patient's appointments"),
        "practitioner" => ("reference", "Practitioner/<id> (or the bare id): that doctor's appointments"),
        "actor" => ("reference", "Practitioner/<id> or Patient/<id>: appointments (Schedule: rules) of that participant; required for Schedule"),
        "date" => ("date", "The start, with eq, ge, gt, le or lt; YYYY, YYYY-MM, YYYY-MM-DD (clinic time zone) or a date-time with a zone; may be given twice for a range"),
        "start" => ("date", "The slot's start, as date; at most 31 clinic days are read, from today when no lower bound is given"),
        "status" => ("token", "Comma-separated R4 codes; HealthSync's statuses map as the README's FHIR R4 section says"),
        "schedule" => ("reference", "Schedule/<id>: that weekly rule's slots (this or schedule.actor is required)"),
        "schedule.actor" => ("reference", "Practitioner/<id>: the doctor's slots, chained through Slot.schedule"),
        "active" => ("token", "true or false"),
        "_count" => ("number", "Results per page, 1-100 (20 by default)"),
        "_page" => ("number", "The page, 1-500, as the next link gives it"),
        "_cursor" => ("string", "Where the page starts, as the next link gives it"),
        _ => ("string", ""),
    };
    CapabilitySearchParam {
        name,
        kind,
        documentation,
    }
}

/// The statement for the endpoint at `base` (`https://host/fhir/R4`).
pub fn capability_statement(base: &str) -> CapabilityStatement {
    let resource = |kind, params: &[&'static str]| CapabilityResource {
        kind,
        interaction: vec![
            CapabilityInteraction { code: "read" },
            CapabilityInteraction {
                code: "search-type",
            },
        ],
        search_param: params.iter().copied().map(param).collect(),
    };
    CapabilityStatement {
        resource_type: "CapabilityStatement",
        status: "active",
        date: "2026-11-28",
        kind: "instance",
        software: CapabilitySoftware {
            name: "HealthSync",
            version: env!("CARGO_PKG_VERSION"),
        },
        implementation: CapabilityImplementation {
            description: "HealthSync clinic scheduling: schedules, slots and appointments, read-only",
            url: base.to_owned(),
        },
        fhir_version: "4.0.1",
        format: vec!["json", "application/fhir+json"],
        rest: vec![CapabilityRest {
            mode: "server",
            security: CapabilitySecurity {
                cors: false,
                description: "Appointment needs a bearer token from POST /auth/login (a patient sees its own, a doctor its own, the front desk and admins all; another's answers 404). Schedule and Slot are public, as the API's schedules and availability are; staff see why a slot is busy. This statement is public.",
            },
            resource: vec![
                resource("Appointment", AppointmentSearch::PARAMS),
                resource("Schedule", ScheduleSearch::PARAMS),
                resource("Slot", SlotSearch::PARAMS),
            ],
        }],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_searched_parameter_is_documented() {
        let statement = super::capability_statement("http://localhost/fhir/R4");
        let json = serde_json::to_value(&statement).unwrap();
        assert_eq!(json["fhirVersion"], "4.0.1");
        for resource in json["rest"][0]["resource"].as_array().unwrap() {
            for p in resource["searchParam"].as_array().unwrap() {
                assert!(!p["documentation"].as_str().unwrap().is_empty(), "{p}");
            }
        }
    }
}
