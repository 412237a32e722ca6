import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { OPTION_GROUPS } from "../../src/config/config.ts";
import { startProcess } from "../support/child-process.ts";
import { ensureBuild } from "../support/dist-build.ts";
import { freePorts } from "../support/free-port.ts";
import { repoRoot } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";

const run = promisify(execFile);
const MAIN = join(repoRoot, "src", "main.ts");
const BACKEND = join(repoRoot, "src", "backend", "sample-backend.ts");

const scratch = await mkdtemp(join(tmpdir(), "operator-cli-"));
after(() => rm(scratch, { recursive: true, force: true }));
/** npx with a cache of its own, so the test leaves nothing in the operator's. */
const NPX_ENV = {
  ...process.env,
  npm_config_cache: join(scratch, "npm-cache"),
  npm_config_update_notifier: "false",
};

/** How a command ended: its exit code and what it printed. */
interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, failing or not. */
function outcome(command: string, args: string[], cwd = repoRoot): Promise<Outcome> {
  return run(command, args, { cwd, env: NPX_ENV, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: Outcome) => error,
  );
}

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
  // The first Consul failure names the address in use and the option and variable that set it.
  assert.match(warning, /Consul at http:\/\/127\.0\.0\.1:\d+ failed/);
  assert.match(warning, /--consul-addr or CONSUL_HTTP_ADDR/);

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

test("--help prints the options by group, wrapped to 80 columns off a terminal, then examples", async () => {
  const help = await outcome(process.execPath, ["--import", "tsx", MAIN, "--help"]);
  assert.equal(help.code, 0, help.stderr);
  const lines = help.stdout.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^usage: npx consul-xds-bridge \[options\]$/);
  assert.deepEqual(
    lines.filter((line) => line.length > 80),
    [],
  );
  const headings = lines.filter((line) => /^\S.*:$/.test(line));
  assert.deepEqual(headings, [...Object.values(OPTION_GROUPS).map((t) => `${t}:`), "Examples:"]);
  assert.ok(lines.includes("  --xds-port PORT  [env BRIDGE_XDS_PORT]"));
  const examples = lines.slice(lines.indexOf("Examples:"));
  assert.equal(
    examples.filter((line) => /^ {2}(\S+=\S+ )?npx consul-xds-bridge /.test(line)).length,
    3,
  );
});

test("a mistyped option exits 2 with the option it resembles and a help command that works", async () => {
  const bad = await outcome(process.execPath, ["--import", "tsx", MAIN, "--xds-prot", "18001"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, "");
  assert.equal(
    bad.stderr,
    "invalid configuration:\n  - unknown option --xds-prot; did you mean --xds-port?\n" +
      "run npx consul-xds-bridge --help for the options\n",
  );

  // The footer's command, as an operator types it in the checkout.
  const help = await outcome("npx", ["consul-xds-bridge", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: npx consul-xds-bridge \[options\]\n/);
  const viaNpx = await outcome("npx", ["consul-xds-bridge", "--xds-prot", "18001"]);
  assert.equal(viaNpx.code, 2);
  assert.equal(viaNpx.stderr, bad.stderr);
});

test("where there is no src/, as in the Docker image, the command runs the build", async () => {
  await ensureBuild();
  const image = join(scratch, "image");
  await mkdir(join(image, "bin"), { recursive: true });
  await copyFile(join(repoRoot, "package.json"), join(image, "package.json"));
  await copyFile(
    join(repoRoot, "bin", "consul-xds-bridge.js"),
    join(image, "bin", "consul-xds-bridge.js"),
  );
  for (const shared of ["dist", "protos", "node_modules"]) {
    await symlink(join(repoRoot, shared), join(image, shared));
  }
  const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
    version: string;
  };
  const printed = await outcome("npx", ["consul-xds-bridge", "--version"], image);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout.trim(), version);
  const bad = await outcome("npx", ["consul-xds-bridge", "--xds-prot", "18001"], image);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /did you mean --xds-port\?\nrun npx consul-xds-bridge --help/);
});
