import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { startBridgeProcess } from "../support/bridge-process.ts";
import { startConsul } from "../support/consul-agent.ts";
import { ensureBuild } from "../support/dist-build.ts";
import { repoRoot } from "../support/tools.ts";

const run = promisify(execFile);

test("npm run build produces dist/main.js, which prints the package version", async () => {
  await ensureBuild();
  const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
    version: string;
  };
  const { stdout } = await run(process.execPath, [join(repoRoot, "dist", "main.js"), "--version"]);
  assert.equal(stdout.trim(), version);
});

test("the build starts against a real Consul agent: ready, status page served, xDS listening, stops with exit 0", async (t) => {
  await ensureBuild();
  const consul = await startConsul();
  t.after(() => consul.stop());
  const bridge = await startBridgeProcess({ consulAddress: consul.address, entry: "dist" });
  t.after(() => bridge.stop());
  assert.equal((await fetch(`${bridge.url}/ready`)).status, 200);
  const page = await fetch(`${bridge.url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i, "the status page is found from dist/");
  assert.match(bridge.output(), /"msg":"xDS server listening"/, "protos/ found from dist/");
  const exit = await bridge.signal("SIGTERM");
  assert.deepEqual(exit, { code: 0, signal: null }, bridge.output());
});
