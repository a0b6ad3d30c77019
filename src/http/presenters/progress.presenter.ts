// Progress history wire JSON (`GET …/history`), typed by the published HistoryResponse: the points oldest
// first, each status as the display name the status routes use ("Running", "Complete", …), and the
// request's counters now.
import type { z } from "zod";
import type { ProgressPoint, RequestRecord } from "../../domain/repositories.js";
import { filesRemaining } from "../../domain/requestReads.service.js";
import { TRANSFORM_STATUS_DISPLAY, type TransformStatusName, isTerminal } from "../../domain/status.js";
import type { HistoryResponse } from "../schemas/transformation.schemas.js";
import { isoZ } from "./time.js";

type History = z.infer<typeof HistoryResponse>;

export const statusDisplay = (s: string): string => TRANSFORM_STATUS_DISPLAY[s as TransformStatusName] ?? s;

export function progressPointJson(p: ProgressPoint): History["history"][number] {
  return {
    time: isoZ(p.time),
    status: statusDisplay(p.status),
    "files-completed": p.filesCompleted,
    "files-failed": p.filesFailed,
    bytes: p.bytes,
    events: p.events,
  };
}

export function historyJson(r: RequestRecord, points: readonly ProgressPoint[]): History {
  return {
    history: points.map(progressPointJson),
    current: {
      status: statusDisplay(r.status),
      terminal: isTerminal(r.status),
      files: r.files,
      "files-completed": r.filesCompleted,
      "files-failed": r.filesFailed,
      "files-remaining": filesRemaining(r),
      "finish-time": r.finishTime ? isoZ(r.finishTime) : null,
    },
  };
}
