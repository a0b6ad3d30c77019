// The object-store port moved to src/domain/objectStore.ts (the domain owns its ports); adapters import it from here.
export * from "../../domain/objectStore.js";
