// Status enums (docs/database.md). The database stores the *name*; the API shows the display string.

export const TRANSFORM_STATUS_DISPLAY = {
  submitted: "Submitted",
  pending_lookup: "Pending Lookup",
  lookup: "Lookup",
  running: "Running",
  complete: "Complete",
  fatal: "Fatal",
  canceled: "Canceled",
  bad_dataset: "Bad Dataset",
} as const;

export type TransformStatusName = keyof typeof TRANSFORM_STATUS_DISPLAY;

export const TERMINAL_STATUSES: readonly TransformStatusName[] = [
  "complete",
  "fatal",
  "canceled",
  "bad_dataset",
];
export const ACTIVE_STATUSES: readonly TransformStatusName[] = [
  "submitted",
  "pending_lookup",
  "lookup",
  "running",
];

export const isTerminal = (s: TransformStatusName): boolean => TERMINAL_STATUSES.includes(s);
export const displayStatus = (s: TransformStatusName): string => TRANSFORM_STATUS_DISPLAY[s];

/** Dataset lookup states; the last three are the DID finder's error types (docs/api.md). */
export const DATASET_LOOKUP_ERRORS = ["does_not_exist", "bad_name", "internal_failure"] as const;
export type DatasetLookupError = (typeof DATASET_LOOKUP_ERRORS)[number];
export type DatasetLookupStatus = "created" | "looking" | "complete" | DatasetLookupError;

/** A dataset needs a (new) lookup unless one is running or finished (docs/database.md). */
export const isLookupRequired = (s: string): boolean => s !== "looking" && s !== "complete";
