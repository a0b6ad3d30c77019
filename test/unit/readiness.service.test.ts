// ReadinessService (docs/api.md "Pages, health and metrics"): ready only when every check is "ok"; each
// failing check says why, and a draining server adds its own.
import { describe, expect, it } from "vitest";
import { type ReadinessProbes, ReadinessService } from "../../src/domain/readiness.service.js";

const probes = (o: Partial<ReadinessProbes> = {}): ReadinessProbes => ({
  ping: async () => undefined,
  brokerConnected: () => true,
  draining: () => false,
  ...o,
});

describe("ReadinessService.check", () => {
  it("When the database answers, the broker is connected and the server is not draining, then it is ready", async () => {
    expect(await new ReadinessService(probes()).check()).toEqual({
      ready: true,
      checks: { database: "ok", broker: "ok" },
    });
  });

  it("When the database fails, the broker is down and the server drains, then each check says so", async () => {
    const r = await new ReadinessService(
      probes({
        ping: async () => {
          throw new Error("connection refused");
        },
        brokerConnected: () => false,
        draining: () => true,
      }),
    ).check();
    expect(r).toEqual({
      ready: false,
      checks: { database: "unavailable: connection refused", broker: "unavailable", server: "shutting down" },
    });
  });
});
