#!/usr/bin/env node
// Validates FHIR R4 JSON resources against HL7's official fhir.schema.json (4.0.1) with ajv,
// both installed by `make fhir-deps` (scripts/fhir-deps.sh) into .stack/fhir.
//
//   node scripts/fhir-validate.mjs FILE...
//
// Each file is checked against the schema's definition of its own resourceType (a Bundle's
// entries against theirs, through the schema's ResourceList). Exit 0: all valid; 1: at least
// one invalid (each error printed with its JSON path); 2: the validator is not installed or a
// file cannot be read. The e2e test `fhir` fails on anything but 0.
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = process.env.FHIR_VALIDATOR_DIR ?? join(root, ".stack", "fhir");
const schemaPath = join(dir, "fhir.schema.json");
if (!existsSync(join(dir, "node_modules", "ajv")) || !existsSync(schemaPath)) {
  console.error(`fhir-validate: no validator in ${dir}: run \`make fhir-deps\``);
  process.exit(2);
}
const Ajv = createRequire(join(dir, "package.json"))("ajv");
const draft06 = createRequire(join(dir, "package.json"))("ajv/lib/refs/json-schema-draft-06.json");

const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
const fhirVersions = schema.definitions?.CapabilityStatement?.properties?.fhirVersion?.enum ?? [];
if (schema.id !== "http://hl7.org/fhir/json-schema/4.0" || !fhirVersions.includes("4.0.1")) {
  console.error(`fhir-validate: ${schemaPath} is not HL7's FHIR R4 4.0.1 schema`);
  process.exit(2);
}
// The schema's `discriminator` is OpenAPI's, not JSON Schema's: ajv 6 ignores unknown keywords.
const ajv = new Ajv({ schemaId: "auto", allErrors: true, jsonPointers: true, logger: false });
ajv.addMetaSchema(draft06);
ajv.addSchema(schema, "fhir");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: fhir-validate.mjs FILE...");
  process.exit(2);
}
let invalid = 0;
for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: cannot read JSON: ${e.message}`);
    process.exit(2);
  }
  const type = resource?.resourceType;
  const validate = typeof type === "string" && schema.definitions[type] && ajv.getSchema(`fhir#/definitions/${type}`);
  if (!validate) {
    invalid += 1;
    console.error(`${file}: INVALID: not a FHIR R4 resource (resourceType ${JSON.stringify(type)})`);
    continue;
  }
  if (validate(resource)) {
    console.log(`${file}: valid FHIR R4 ${type}`);
    continue;
  }
  invalid += 1;
  // A Bundle entry's resource is checked against every resource type (the schema's oneOf),
  // which buries its real errors among a hundred others: report the entry's errors from its
  // own type's definition instead.
  const inEntry = /^\/entry\/\d+\/resource(\/|$)/;
  const errors = validate.errors.filter((e) => !inEntry.test(e.dataPath));
  for (const [i, entry] of (type === "Bundle" ? resource.entry ?? [] : []).entries()) {
    const own = entry?.resource?.resourceType;
    const check = typeof own === "string" && schema.definitions[own] && ajv.getSchema(`fhir#/definitions/${own}`);
    if (!check) {
      errors.push({ dataPath: `/entry/${i}/resource`, message: `not a FHIR R4 resource (resourceType ${JSON.stringify(own)})` });
    } else if (!check(entry.resource)) {
      errors.push(...check.errors.map((e) => ({ ...e, dataPath: `/entry/${i}/resource${e.dataPath}` })));
    }
  }
  console.error(`${file}: INVALID ${type}`);
  for (const e of errors.slice(0, 30)) {
    console.error(`  at ${e.dataPath || "/"}: ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`);
  }
}
process.exit(invalid ? 1 : 0);
