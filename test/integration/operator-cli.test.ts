import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { startProcess } from "../support/child-process.ts";
import { freePorts } from "../support/free-port.ts";
import { repoRoot } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";

const run = promisify(execFile);
const MAIN = join(repoRoot, "src", "main.ts");
const BACKEND = join(repoRoot, "src", "backend", "sample-backend.ts");

/** What the bridge prints in its first seconds with Consul unreachable, in the given format. */
async function firstLines(format: string[]): Promise<string> {
  const [xdsPort, httpPort, consulPort] = await freePorts(3);
  const bridge = startProcess(process.execPath, [
    "--import",
    "tsx",
    MAIN,
    `--consul-addr=127.0.0.1:${consulPort}`,
    `--xds-port=${xdsPort}`,
    `--http-port=${httpPort}`,
    ...format,
  ]);
  try {
    await waitFor(() => bridge.output().includes("local datacenter"), {
      timeoutMs: 20_000,
      description: "the first Consul failure logged",
    });
    return bridge.output();
  } finally {
    await bridge.stop();
  }
}

test("--log-format pretty writes one readable line per event, json one JSON object per line", async () => {
  const pretty = await firstLines(["--log-format=pretty"]);
  const warning = pretty.split("\n").find((line) => line.includes("local datacenter"));
  assert.ok(warning, pretty);
  assert.match(warning, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: /, "time and level first");
  assert.doesNotMatch(warning, /^\{/, "not JSON");

  // Not a terminal and no --log-format: JSON, as log collectors expect.
  for (const json of [await firstLines([]), await firstLines(["--log-format=json"])]) {
    const lines = json.split("\n").filter((line) => line.trim() !== "");
    assert.ok(lines.length > 0);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
  }
});

test("the sample backend answers --help with its options and examples, and names a bad option", async () => {
  const help = await run(process.execPath, ["--import", "tsx", BACKEND, "--help"], {
    cwd: repoRoot,
  });
  assert.match(help.stdout, /^usage: npm run backend -- --port PORT/);
  assert.match(help.stdout, /--register {2,}register itself in Consul/);
  assert.match(help.stdout, /examples:\n {2}npm run backend -- --port 8081/);

  const bad = await run(process.execPath, ["--import", "tsx", BACKEND, "--prot", "8081"], {
    cwd: repoRoot,
  }).then(
    () => assert.fail("a bad option must fail"),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Unknown option '--prot'/);
  assert.match(bad.stderr, /usage: npm run backend/);
});
