import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError, DEFAULT_HTTP_HOST, parseConfig, usage } from "../../src/config/config.ts";
import { describeConfig } from "../../src/config/summary.ts";
import { usableCores } from "../../src/config/usable-cores.ts";

const scratch = mkdtempSync(join(tmpdir(), "config-cli-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes a --config file and returns its path. */
function configFile(name: string, content: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function problemsOf(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error("expected a configuration");
  return parsed;
}

describe("command line", () => {
  it("answers -h like --help and --version as a request to print the version", () => {
    assert.deepEqual(parseConfig(["-h"], {}), { help: true });
    assert.deepEqual(parseConfig(["--version"], {}), { help: true, version: true });
    assert.match(usage(), /--version/);
  });

  it("limits the names one xDS stream may subscribe to: 100,000 unless --xds-max-names says", () => {
    assert.equal(parse([]).config.xds.maxNames, 100_000);
    assert.equal(parse(["--xds-max-names=500"]).config.xds.maxNames, 500);
    assert.equal(parse([], { BRIDGE_XDS_MAX_NAMES: "2000" }).config.xds.maxNames, 2_000);
    assert.equal(problemsOf(["--xds-max-names=0"]).length, 1);
    assert.match(problemsOf(["--xds-max-names=many"])[0]!, /xds-max-names/);
    assert.match(
      usage(),
      /--xds-max-names N {2}\[env BRIDGE_XDS_MAX_NAMES\]\n[^[]+RESOURCE_EXHAUSTED\s+\[default: 100000\]/,
    );
  });

  it("serves xDS from as many worker processes as the process may use cores, unless --xds-workers says", () => {
    // Its CPU affinity, and its cgroup's CPU quota (usable-cores.test.ts).
    assert.equal(parse([]).config.xds.workers, usableCores());
    assert.equal(parse(["--xds-workers=1"]).config.xds.workers, 1);
    assert.equal(parse([], { BRIDGE_XDS_WORKERS: "3" }).config.xds.workers, 3);
    assert.match(problemsOf(["--xds-workers=0"])[0]!, /xds-workers/);
    assert.equal(problemsOf(["--xds-workers=65"]).length, 1);
    assert.match(
      usage(),
      /--xds-workers N {2}\[env BRIDGE_XDS_WORKERS\]\n[^[]+\[default: the\s+number\s+of\s+cores\s+the\s+process\s+may\s+use\s+\(its\s+CPU\s+affinity\s+and\s+CPU\s+quota\)\]/,
    );
  });

  it("binds the shim and status page to loopback unless a host is given", () => {
    assert.equal(DEFAULT_HTTP_HOST, "127.0.0.1");
    assert.equal(parse([]).config.http.host, "127.0.0.1");
    assert.equal(parse(["--http-host=0.0.0.0"]).config.http.host, "0.0.0.0");
  });

  it("reads BRIDGE_ environment names, and the old names with a deprecation notice", () => {
    const fresh = parse([], { BRIDGE_XDS_PORT: "18001", BRIDGE_HTTP_HOST: "10.0.0.5" });
    assert.equal(fresh.config.xds.port, 18001);
    assert.equal(fresh.config.http.host, "10.0.0.5");
    assert.deepEqual(fresh.warnings, []);
    const old = parse([], { XDS_PORT: "18002", LOG_LEVEL: "debug" });
    assert.equal(old.config.xds.port, 18002);
    assert.equal(old.config.logLevel, "debug");
    assert.ok(old.warnings.some((w) => /XDS_PORT is deprecated: use BRIDGE_XDS_PORT/.test(w)));
  });

  it("ignores a Kubernetes service variable in an old name with a warning instead of refusing to start", () => {
    const parsed = parse([], { XDS_PORT: "tcp://10.0.0.1:18000" });
    assert.equal(parsed.config.xds.port, 18000);
    assert.match(parsed.warnings.join("\n"), /XDS_PORT=tcp:\/\/10\.0\.0\.1:18000 ignored/);
  });

  it("takes a Consul switch alone as true, and still reads =false or a separate true/false", () => {
    assert.equal(parse(["--consul-ssl"]).config.consul.secure, true);
    assert.equal(parse(["--consul-ssl=false"]).config.consul.secure, false);
    assert.equal(parse(["--consul-ssl", "--xds-port", "18001"]).config.consul.secure, true);
    assert.equal(parse(["--consul-ssl", "--xds-port", "18001"]).config.xds.port, 18001);
    const separate = parse(["--consul-stale", "false", "--consul-cached"]).config.consul;
    assert.equal(separate.stale, false);
    assert.equal(separate.cached, true);
    assert.equal(parse(["--consul-ssl-verify=no"]).config.consul.tls?.verify, false);
    assert.deepEqual(problemsOf(["--consul-ssl=maybe"]), [
      "--consul-ssl=maybe: expected true or false",
    ]);
  });

  it("reads a --config file keyed by flag names, below flags and environment", () => {
    const file = configFile("ok.json", {
      "xds-port": 18100,
      "http-port": "5100",
      services: ["api-*", "web"],
      "consul-ssl": true,
      "log-level": "debug",
    });
    const fromFile = parse(["--config", file]).config;
    assert.equal(fromFile.xds.port, 18100);
    assert.equal(fromFile.http.port, 5100);
    assert.equal(fromFile.consul.secure, true);
    assert.equal(fromFile.logLevel, "debug");
    const env = { BRIDGE_XDS_PORT: "18200", BRIDGE_CONFIG: file };
    const layered = parse(["--http-port=5300"], env).config;
    assert.equal(layered.xds.port, 18200, "environment wins over the file");
    assert.equal(layered.http.port, 5300, "a flag wins over the file");
    assert.equal(layered.logLevel, "debug", "the file wins over the default");
  });

  it("lists every problem of a config file at once, naming the file and the key", () => {
    const file = configFile("bad.json", {
      "xds-port": "many",
      "no-such-option": 1,
      help: true,
      "warning-as": { nested: true },
    });
    const problems = problemsOf(["--config", file, "--http-port=x"]);
    assert.deepEqual(problems.toSorted(), [
      "--http-port=x: expected an integer from 0 to 65535",
      `${file}: key "warning-as": expected a string, number, boolean or list of strings`,
      `${file}: unknown key "help" (keys are the flag names)`,
      `${file}: unknown key "no-such-option" (keys are the flag names)`,
      `${file}:xds-port=many: expected an integer from 0 to 65535`,
    ]);
    assert.match(
      problemsOf(["--config", join(scratch, "missing.json")])[0] ?? "",
      /^--config=.*missing\.json: cannot read the file \(ENOENT\)$/,
    );
    assert.match(
      problemsOf(["--config", configFile("broken.json", "{")])[0] ?? "",
      /broken\.json: not valid JSON/,
    );
    assert.match(
      problemsOf(["--config", configFile("list.json", [1])])[0] ?? "",
      /list\.json: expected a JSON object/,
    );
  });

  it("suggests the option a mistyped flag most likely stands for, and says nothing of its value", () => {
    assert.deepEqual(problemsOf(["--xds-prot", "18001"]), [
      "unknown option --xds-prot; did you mean --xds-port?",
    ]);
    assert.deepEqual(problemsOf(["--XDS-PORT=18001"]), [
      "unknown option --XDS-PORT; did you mean --xds-port?",
    ]);
    assert.deepEqual(problemsOf(["--consul-tls", "consul.internal"]), [
      "unknown option --consul-tls; did you mean --consul-tls-server-name?",
    ]);
    assert.deepEqual(problemsOf(["--log-formt=json", "--helpp"]), [
      "unknown option --log-formt; did you mean --log-format?",
      "unknown option --helpp; did you mean --help?",
    ]);
    // Nothing close enough, or only a short option: no guess.
    assert.deepEqual(problemsOf(["--no-such-flag", "-x"]), [
      "unknown option --no-such-flag",
      "unknown option -x",
    ]);
    assert.deepEqual(problemsOf(["--xds"]), ["unknown option --xds"]);
    // A stray word that follows a known option is still reported.
    assert.deepEqual(problemsOf(["--consul-ssl", "18001"]), ['unexpected argument "18001"']);
  });

  it("suggests the key a mistyped key of the config file most likely stands for", () => {
    const file = configFile("typo.json", { "xds-prot": 18001, "log-level": "debug" });
    assert.deepEqual(problemsOf(["--config", file]), [
      `${file}: unknown key "xds-prot" (keys are the flag names); did you mean "xds-port"?`,
    ]);
  });

  it("describes the effective configuration with every secret masked", () => {
    const tokenFile = configFile("token", "file-secret\n");
    const { config } = parse(
      ["--shim-token=shim-secret", "--xds-token=xds-secret", `--consul-token-file=${tokenFile}`],
      { CONSUL_HTTP_TOKEN: "env-secret" },
    );
    const described = describeConfig(config) as {
      consul: { token: string; tokenSource: string };
      http: { token: string; port: number };
      xds: { token: string };
    };
    const text = JSON.stringify(described);
    for (const secret of ["shim-secret", "xds-secret", "file-secret", "env-secret"]) {
      assert.ok(!text.includes(secret), `${secret} is not shown`);
    }
    assert.equal(described.consul.token, "***");
    assert.equal(described.http.token, "***");
    assert.equal(described.xds.token, "***");
    assert.equal(described.http.port, 5000);
    assert.match(described.consul.tokenSource, /--consul-token-file=/);
  });
});
