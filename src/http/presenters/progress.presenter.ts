// Progress history wire JSON: `{"history": [{"time", "status", "files-completed", "files-failed",
// "bytes", "events"}]}`; status as the display name the status routes use ("Running", "Complete", …).
import type { ProgressPoint } from "../../adapters/repositories/progress.repo.js";
import { TRANSFORM_STATUS_DISPLAY, type TransformStatusName } from "../../domain/status.js";
import { isoZ } from "./time.js";

export const statusDisplay = (s: string): string => TRANSFORM_STATUS_DISPLAY[s as TransformStatusName] ?? s;

export function progressPointJson(p: ProgressPoint): Record<string, unknown> {
  return {
    time: isoZ(p.time),
    status: statusDisplay(p.status),
    "files-completed": p.filesCompleted,
    "files-failed": p.filesFailed,
    bytes: p.bytes,
    events: p.events,
  };
}
