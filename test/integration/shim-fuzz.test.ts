import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, before, describe, test } from "node:test";
import type { AgentServiceEntry } from "../../src/consul/register/agent-services.ts";
import { SHIM_META_KEY, SHIM_META_VALUE } from "../../src/consul/register/registration.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { generateRequests, instanceKey, type FuzzRequest } from "../support/shim-fuzz-cases.ts";
import { startShim, type Shim } from "../support/shim-harness.ts";
import { waitFor } from "../support/wait-for.ts";

// Reproduce a failure with BRIDGE_FUZZ_SEED=<the seed printed>.
const SEED = Number(process.env.BRIDGE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const COUNT = 10_000;
/** Requests in flight at once; every instance belongs to one lane, so its calls stay in order. */
const LANES = 24;
const PINNED = "Pinned";
const SERVICES = ["alpha", "beta_2", "gamma-x", "d9", "myservice", PINNED];

interface Answer {
  status: number;
  body: string;
}

describe(`shim fuzz: ${COUNT} hostile and random requests (seed ${SEED})`, () => {
  let consul: ConsulAgent;
  let shim: Shim;
  const agent = new Agent({ keepAlive: true, maxSockets: LANES });

  before(async () => {
    consul = await startConsul();
    shim = await startShim(consul.httpPort, undefined, {
      catchAll: false,
      shim: { shimReservedServices: "vault" },
    });
  });
  after(async () => {
    agent.destroy();
    await shim?.close();
    await consul?.stop();
  });

  const send = (r: FuzzRequest): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const headers = { ...r.headers, ...(r.body ? { "content-length": r.body.length } : {}) };
      const call = request(
        {
          host: "127.0.0.1",
          port: shim.server.port,
          method: r.method,
          path: r.path,
          headers,
          agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      call.once("error", reject);
      call.end(r.body);
    });

  test("valid input is answered 2xx (404 for deregistering nothing), everything else 4xx naming the problem, never 5xx; Consul holds exactly the valid registrations", async (t) => {
    t.diagnostic(`seed ${SEED} (set BRIDGE_FUZZ_SEED to reproduce)`);
    const ports = [41_001, 41_002, 41_003].filter((p) => p !== consul.httpPort);
    const pinnedKey = instanceKey(PINNED, "127.0.0.1", 41_000);
    const pinned = await shim.get(
      `/edsservice/register?endpoint=127.0.0.1:41000&service=${PINNED}`,
    );
    assert.equal(pinned.status, 200);
    const requests = generateRequests(SEED, COUNT, {
      ports,
      consulHttpPort: consul.httpPort,
      pinned: PINNED,
      defaultService: "myservice",
    });

    const model = new Set<string>();
    const failures: string[] = [];
    const counts = new Map<number, number>();
    const lanes: FuzzRequest[][] = Array.from({ length: LANES }, () => []);
    requests.forEach((r, i) => {
      const lane = r.expect.kind === "valid" ? hash(r.expect.key) : i;
      lanes[lane % LANES]?.push(r);
    });
    const check = (r: FuzzRequest, answer: Answer): string | undefined => {
      const { expect } = r;
      if (answer.status >= 500) return `5xx`;
      if (expect.kind === "refused") {
        if (answer.status !== expect.status) return `expected ${expect.status}`;
        if (expect.says && !expect.says.test(answer.body)) return `expected body ${expect.says}`;
        return undefined;
      }
      const held = model.has(expect.key);
      const wanted = expect.action === "register" || held ? 200 : 404;
      if (answer.status !== wanted) return `expected ${wanted}`;
      if (expect.action === "register") model.add(expect.key);
      else model.delete(expect.key);
      const word =
        expect.action === "register"
          ? held
            ? "already"
            : "ok|registered"
          : held
            ? "ok|deregistered"
            : "not";
      return new RegExp(`\\b(${word})`).test(answer.body) ? undefined : `expected ${word}`;
    };
    const started = performance.now();
    await Promise.all(
      lanes.map(async (lane) => {
        for (const r of lane) {
          const answer = await send(r);
          counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
          const problem = check(r, answer);
          if (problem) {
            failures.push(
              `${r.label} | ${r.method} ${r.path.slice(0, 120)} → ${answer.status} ${answer.body.slice(0, 200)} | ${problem}`,
            );
          }
        }
      }),
    );
    const ms = performance.now() - started;
    t.diagnostic(
      `${COUNT} requests in ${ms.toFixed(0)} ms; statuses ${JSON.stringify(Object.fromEntries([...counts].sort()))}; ${model.size} instances registered at the end`,
    );
    assert.deepEqual(failures.slice(0, 20), [], `seed ${SEED}: ${failures.length} failures`);

    const expected = [...model, pinnedKey].sort();
    const inAgent = Object.values(
      await consul.api<Record<string, AgentServiceEntry>>("GET", "/v1/agent/services"),
    )
      .filter((s) => s.Meta?.[SHIM_META_KEY] === SHIM_META_VALUE)
      .map((s) => instanceKey(s.Service, s.Address, s.Port))
      .sort();
    assert.deepEqual(
      inAgent,
      expected,
      `seed ${SEED}: the agent holds exactly the valid registrations`,
    );
    await waitFor(
      async () => {
        const entries = await Promise.all(
          SERVICES.map((name) =>
            consul.api<{ ServiceName: string; ServiceAddress: string; ServicePort: number }[]>(
              "GET",
              `/v1/catalog/service/${name}`,
            ),
          ),
        );
        const keys = entries
          .flat()
          .map((e) => instanceKey(e.ServiceName, e.ServiceAddress, e.ServicePort));
        return JSON.stringify([...new Set(keys)].sort()) === JSON.stringify(expected);
      },
      {
        timeoutMs: 20_000,
        description: `catalog holding exactly the valid registrations (seed ${SEED})`,
      },
    );
    const consulService = await consul.api<unknown[]>("GET", "/v1/catalog/service/consul");
    assert.equal(consulService.length, 1, "Consul's own service is untouched");
  });
});

function hash(text: string): number {
  let h = 0;
  for (const char of text) h = (Math.imul(h, 31) + char.charCodeAt(0)) >>> 0;
  return h;
}
