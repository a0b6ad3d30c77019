// The parser moved to src/domain/isoTime.ts (the domain uses it too); the schemas and routes import it from here.
export { normaliseIsoTime } from "../../domain/isoTime.js";
