// RequestReads (src/domain/requestReads.service.ts) over in-memory stand-ins: the access rule, the answers for
// unknown requests and the refusals, without HTTP or a database.
import { describe, expect, it } from "vitest";
import { transformNotFound } from "../../src/domain/errors.js";
import { assertMayRequest, type Requester } from "../../src/domain/policy.js";
import type { RequestRecord, ResultJsonRow } from "../../src/domain/repositories.js";
import { filesRemaining, RequestReads } from "../../src/domain/requestReads.service.js";

const ID = "11111111-1111-4111-8111-111111111111";
const rec = {
  requestId: ID,
  submittedBy: 7,
  files: 3,
  filesCompleted: 1,
  filesFailed: 1,
  resultDestination: "volume",
} as RequestRecord;
const row = { id: 1, request_id: ID } as ResultJsonRow;
const owner: Requester = { user: { id: 7, admin: false } };
const other: Requester = { user: { id: 8, admin: false } };

function reads(status: object | null = null) {
  const find = async (id: string) => (id === ID ? rec : null);
  return new RequestReads({
    transformations: {
      async get(id, who) {
        const r = await find(id);
        if (!r) throw transformNotFound(id);
        assertMayRequest(who, r, "view");
        return r;
      },
    },
    requests: { find, stats: async () => null },
    results: { listForRequest: async () => [row], failures: async () => [] },
    progress: { history: async () => [] },
    launcher: { deploymentStatus: async () => status },
    now: () => 1_000_000,
  });
}

describe("RequestReads", () => {
  it("When files are counted, then the remaining ones are files minus completed and failed, null while none is known", () => {
    expect(filesRemaining(rec)).toBe(1);
    expect(filesRemaining({ files: 0, filesCompleted: 0, filesFailed: 0 })).toBeNull();
  });
  it("When results of an unknown request are asked, then there are none; another user's are refused", async () => {
    expect(await reads().results("22222222-2222-4222-8222-222222222222", owner, null)).toEqual([]);
    expect(await reads().results(ID, owner, null)).toEqual([row]);
    await expect(reads().results(ID, other, null)).rejects.toMatchObject({ status: 403 });
  });
  it("When another user's request is looked for by the download, then it is answered as unknown (null)", async () => {
    expect(await reads().visible(ID, other)).toBeNull();
    expect(await reads().visible(ID, owner)).toBe(rec);
  });
  it("When the status is asked without details, then no per-file rows are read", async () => {
    expect(await reads().status(ID, owner, false)).toEqual({ request: rec, stats: null, details: null });
    expect((await reads().status(ID, owner, true)).details).toEqual([row]);
  });
  it("When no Deployment is known, then 404 names the id as asked", async () => {
    await expect(reads().deploymentStatus(ID, owner)).rejects.toMatchObject({
      status: 404,
      message: `Deployment not found: '${ID}'`,
    });
    expect(await reads({ replicas: 1 }).deploymentStatus(ID, owner)).toEqual({ replicas: 1 });
  });
  it("When links are asked of a signer that does not serve the request, then 400; otherwise one link per key with one expiry", async () => {
    const none = { serves: () => false, sign: () => "" };
    await expect(reads().resultLinks(ID, owner, ["a"], none, 60)).rejects.toMatchObject({
      status: 400,
      message: `Transform request ${ID} does not use object-store`,
    });
    const local = {
      serves: () => true,
      sign: (id: string, key: string, exp: number) => `u/${id}/${key}/${exp}`,
    };
    expect(await reads().resultLinks(ID, owner, ["a", "b"], local, 60)).toEqual({
      links: [
        { key: "a", url: `u/${ID}/a/60` },
        { key: "b", url: `u/${ID}/b/60` },
      ],
      expiresAt: 1060,
    });
  });
});
