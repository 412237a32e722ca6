import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startConsulProxy, type ConsulProxy } from "../support/consul-proxy.ts";
import { holdsFor, waitFor } from "../support/wait-for.ts";

/** A short blocking wait, so a silent watch is overdue soon: 1 s + 1/16 s + the 15 s margin. */
const WAIT_SECONDS = 1;
const STALL_AFTER_SECONDS = WAIT_SECONDS * (17 / 16) + 15;
const HEALTH_WATCH = "/health/state/critical";

interface WatchState {
  path: string;
  ageSeconds: number;
  stalled: boolean;
}

describe("a Consul watch with no good answer beyond its wait plus margin", () => {
  let consul: ConsulAgent;
  let proxy: ConsulProxy;
  let bridge: BridgeProcess;
  let resume: (() => void) | undefined;

  before(async () => {
    consul = await startConsul();
    proxy = await startConsulProxy(consul.address);
    bridge = await startBridgeProcess({
      consulAddress: `127.0.0.1:${proxy.port}`,
      extraArgs: [`--consul-wait=${WAIT_SECONDS}`],
    });
  });

  after(async () => {
    resume?.();
    await bridge?.stop();
    await proxy?.close();
    await consul?.stop();
  });

  const ready = async (): Promise<{ status: number; text: string }> => {
    const response = await fetch(`${bridge.url}/ready`);
    return { status: response.status, text: await response.text() };
  };
  const healthWatch = async (): Promise<WatchState | undefined> => {
    const state = (await (await fetch(`${bridge.url}/debug/state`)).json()) as {
      consul: { watches: WatchState[] };
    };
    return state.consul.watches.find((watch) => watch.path === HEALTH_WATCH);
  };
  const ageGauge = async (): Promise<number> => {
    const text = await (await fetch(`${bridge.url}/metrics`)).text();
    const line = /^bridge_consul_watch_age_seconds\{watch="\/health\/state\/critical"\} (\S+)$/m;
    return Number(text.match(line)?.[1] ?? Number.NaN);
  };

  test("turns /ready to 503 naming the watch while Consul holds every request, and ready again after", async () => {
    const before = await healthWatch();
    assert.equal(before?.stalled, false);
    assert.ok((before?.ageSeconds ?? Infinity) < STALL_AFTER_SECONDS, "a fresh watch is young");

    resume = proxy.pause();
    // An ordinary silence (well under the wait plus margin) does not make the bridge unready.
    await holdsFor(async () => assert.equal((await ready()).status, 200), 5_000, 250);

    const notReady = await waitFor(
      async () => {
        const answer = await ready();
        // Every blocking watch falls silent together; any may be named first.
        return answer.status === 503 && answer.text.includes(HEALTH_WATCH) && answer;
      },
      {
        timeoutMs: (STALL_AFTER_SECONDS + 20) * 1000,
        description: "/ready answering 503 naming the health watch",
      },
    );
    assert.ok(notReady.text.includes(HEALTH_WATCH), `the body names the watch: ${notReady.text}`);
    const stalled = await healthWatch();
    assert.equal(stalled?.stalled, true, "/debug/state shows the watch stalled");
    assert.ok((stalled?.ageSeconds ?? 0) > STALL_AFTER_SECONDS, `age ${stalled?.ageSeconds}`);
    assert.ok((await ageGauge()) > STALL_AFTER_SECONDS, "the age gauge shows it too");

    resume();
    resume = undefined;
    await waitFor(async () => (await ready()).status === 200, {
      timeoutMs: 30_000,
      description: "/ready answering 200 again",
    });
    const after = await healthWatch();
    assert.equal(after?.stalled, false);
    assert.ok((after?.ageSeconds ?? Infinity) < STALL_AFTER_SECONDS);
  });
});
