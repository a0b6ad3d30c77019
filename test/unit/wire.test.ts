import { describe, expect, it } from "vitest";
import { fileListDatasetName, parseDid } from "../../src/domain/did.js";
import { requestJson } from "../../src/http/presenters/request.presenter.js";
import { isoNaive, isoZ } from "../../src/http/presenters/time.js";
import { normaliseIsoTime } from "../../src/http/schemas/isotime.js";
import type { RequestRecord } from "../../src/adapters/repositories/requests.repo.js";

describe("parseDid (contract §3.4)", () => {
  it("When the DID has a scheme, then it is split off; otherwise the default applies; query and inner :// stay", () => {
    expect(parseDid("rucio://mc16:ds?files=3", "rucio")).toEqual({
      scheme: "rucio",
      did: "mc16:ds?files=3",
      fullDid: "rucio://mc16:ds?files=3",
    });
    expect(parseDid("mc16:ds", "rucio").fullDid).toBe("rucio://mc16:ds");
    expect(parseDid("xrootd://root://host//f.root", "rucio")).toMatchObject({
      scheme: "xrootd",
      did: "root://host//f.root",
    });
  });
  it("When a file list is given, then the dataset name is sha256 of the paths joined by one space", () => {
    expect(fileListDatasetName(["a", "b"])).toBe(
      "c8687a08aa5d6ed2044328fa6a697ab8e96dc34291e8c2034ae8c38e6fcc6d65",
    );
  });
});

describe("time formats (contract A.1, A.22)", () => {
  it("When a date is shown, then it has 6 fractional digits with Z for requests, none for results", () => {
    const d = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
    expect(isoZ(d)).toBe("2025-01-02T03:04:05.678000Z");
    expect(isoNaive(d)).toBe("2025-01-02T03:04:05.678000");
  });
  it("When later_than arrives in Python isoformat forms, then it is accepted; impossible dates are refused", () => {
    expect(normaliseIsoTime("0001-01-01T00:00:00+00:00")).toBe("0001-01-01T00:00:00+00:00");
    expect(normaliseIsoTime("2026-09-15T19:37:57.205899")).toBe("2026-09-15T19:37:57.205899+00:00");
    expect(normaliseIsoTime("2026-09-15")).toBe("2026-09-15T00:00:00+00:00");
    expect(normaliseIsoTime("2026-09-15T19:37:57Z")).toBe("2026-09-15T19:37:57+00:00");
    expect(normaliseIsoTime("2026-09-15T19:37:57-0530")).toBe("2026-09-16T01:07:57+00:00");
    expect(normaliseIsoTime("2024-01-01T00:00:00.5+16:00")).toBe("2023-12-31T08:00:00.5+00:00");
    expect(normaliseIsoTime("0001-01-01T00:00:00+01:00")).toBe("0001-01-01T00:00:00+00:00");
    for (const bad of [
      "yesterday",
      "2026-13-01",
      "2026-02-30",
      "2026-01-01T25:00:00",
      "",
      "2026-01-01T00:00:00+99:00",
      "2026-01-01\u0000",
    ]) {
      expect(normaliseIsoTime(bad)).toBeNull();
    }
  });
});

describe("request JSON (contract §3.2, A.20)", () => {
  const base = {
    id: 7,
    requestId: "7f4b3c3e-0000-4000-8000-000000000000",
    title: null,
    submitTime: new Date(Date.UTC(2025, 0, 1, 12)),
    finishTime: null,
    did: "rucio://ds",
    didId: 3,
    selection: "sel",
    treeName: null,
    image: "img:1",
    workers: 1,
    resultDestination: "object-store",
    resultFormat: "parquet",
    submittedBy: null,
    files: 0,
    filesCompleted: 0,
    filesFailed: 0,
    totalEvents: null,
    totalBytes: null,
    didLookupTime: null,
    generatedCodeCm: "x-generated-source",
    status: "lookup",
    failureDescription: null,
    appVersion: "1.0",
    codeGenImage: "cg",
    transformerLanguage: null,
    transformerCommand: null,
    tasksPublishedThrough: 0,
  } as unknown as RequestRecord;

  it("When a request is unfinished with no files, then finish-time is the string None and files-remaining is null", () => {
    const j = requestJson(base);
    expect(j["finish-time"]).toBe("None");
    expect(j["files-remaining"]).toBeNull();
    expect(j.status).toBe("Lookup");
    expect(j).toHaveProperty("tree-name", null);
    for (const k of ["request_id", "did", "selection", "image", "generated-code-cm", "app-version"] as const)
      expect(typeof j[k]).toBe("string");
  });
  it("When it finished, then finish-time is formatted and files-remaining counted", () => {
    const j = requestJson({
      ...base,
      files: 10,
      filesCompleted: 7,
      filesFailed: 3,
      status: "complete",
      finishTime: new Date(Date.UTC(2025, 0, 1, 13)),
    } as RequestRecord);
    expect(j["finish-time"]).toBe("2025-01-01T13:00:00.000000Z");
    expect(j["files-remaining"]).toBe(0);
    expect(j.status).toBe("Complete");
  });
});

describe("object names of old sidecars (contract A.28)", () => {
  it("When the sidecar sent no s3-object-name, then the App derives the name the sidecar used", async () => {
    const { objectNameFor } = await import("../../src/domain/objectName.js");
    expect(objectNameFor("root://eos.cern.ch//eos/atlas/f1.root", "parquet")).toBe(
      "root:::eos.cern.ch::eos:atlas:f1.root.parquet",
    );
    expect(objectNameFor("/data/f1.root", "root-file")).toBe(":data:f1.root");
    const long = `root://host//${"d/".repeat(200)}file.root`;
    const name = objectNameFor(long, "parquet");
    expect(name).toHaveLength(255);
    expect(name).toMatch(/^_[0-9a-f]{40}/);
    expect(name.endsWith(":file.root.parquet")).toBe(true);
  });
});

describe("result-format of adopted rows (contract A.20)", () => {
  it("When an old upstream row says arrow, then the client sees parquet", async () => {
    const { requestJson } = await import("../../src/http/presenters/request.presenter.js");
    const j = requestJson({
      requestId: "x",
      submitTime: new Date(0),
      finishTime: null,
      resultFormat: "arrow",
      status: "complete",
      files: 1,
      filesCompleted: 1,
      filesFailed: 0,
    } as unknown as RequestRecord);
    expect(j["result-format"]).toBe("parquet");
  });
});
