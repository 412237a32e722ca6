import assert from "node:assert/strict";
import { once } from "node:events";
import { after, test } from "node:test";
import { processesMatching, startProcess, type ManagedProcess } from "../support/child-process.ts";
import { freePorts } from "../support/free-port.ts";
import { repoRoot } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";

const BACKEND_PORTS = [8081, 8082, 8083, 8084, 8085, 8086];

let demo: ManagedProcess | undefined;
/** The demo's processes still running (by the ports and files they were given). */
let leftovers: () => Promise<string[]> = async () => [];
after(async () => {
  await demo?.stop(20_000);
  // Whatever a failed stop left behind is killed, so no later test finds its ports taken.
  for (const line of await leftovers()) process.kill(Number(line.split(":")[0]), "SIGKILL");
});

test("npm run demo: traffic reaches all six backends, and SIGTERM to npm alone stops every process it started", async () => {
  const [consulPort, xdsPort, httpPort, gatewayPort, adminPort] = await freePorts(5);
  demo = startProcess("npm", ["run", "demo"], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DEMO_CONSUL_PORT: String(consulPort),
      DEMO_XDS_PORT: String(xdsPort),
      DEMO_HTTP_PORT: String(httpPort),
      DEMO_GATEWAY_PORT: String(gatewayPort),
      DEMO_ADMIN_PORT: String(adminPort),
    },
  });
  const child = demo.child;
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`the demo exited: ${demo?.output()}`);
      return demo?.output().includes("demo: all six backends") ?? false;
    },
    { timeoutMs: 120_000, intervalMs: 200, description: "all six backends answering" },
  );
  const logs = /\(logs: (\S+)\/consul\.log\)/.exec(demo.output())?.[1];
  assert.ok(logs, "the demo names its log folder");

  // As systemd, a terminal multiplexer or a container runtime whose first process is npm do.
  child.ref();
  const exited = once(child, "exit");
  process.kill(child.pid ?? -1, "SIGTERM");
  await exited;
  assert.match(demo.output(), /demo: stopping everything/);

  leftovers = async () => [
    ...(await processesMatching(`-http-port ${consulPort}`)),
    ...(await processesMatching(`--http-port ${httpPort}`)),
    ...(await processesMatching(`${logs}/envoy.yaml`)),
    ...(await Promise.all(
      BACKEND_PORTS.map((port) => processesMatching(`sample-backend.ts --port ${port}`)),
    ).then((lists) => lists.flat())),
  ];
  assert.deepEqual(await leftovers(), [], "no process of the demo is left behind");
});
