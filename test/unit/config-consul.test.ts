import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readConsulConfig, type ConsulOption } from "../../src/config/consul.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";

/** Reads the settings as if each came from Consul's environment variable. */
function read(values: Partial<Record<ConsulOption, string>>): {
  config: ReturnType<typeof readConsulConfig>;
  problems: string[];
} {
  const problems: string[] = [];
  const given = Object.fromEntries(
    Object.entries(values).map(([name, value]) => [name, { value, source: name }]),
  );
  return { config: readConsulConfig(given, problems), problems };
}

describe("Consul settings read as Consul's CLI reads them", () => {
  let certs: TestCertificates;
  let dir: string;
  before(async () => {
    certs = await makeTestCertificates();
    dir = await mkdtemp(join(tmpdir(), "consul-config-"));
  });
  after(async () => {
    await certs.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a unix:///path address as a socket", () => {
    const { config, problems } = read({ consulAddr: "unix:///run/consul/http.sock" });
    assert.deepEqual(problems, []);
    assert.equal(config.socketPath, "/run/consul/http.sock");
    assert.equal(config.secure, false);
  });

  it("rejects a unix address that is not absolute", () => {
    assert.match(read({ consulAddr: "unix://consul.sock" }).problems.join(), /ABSOLUTE/);
  });

  it("takes the token from the token file, trimmed, over the token (as Consul's client does)", async () => {
    const file = join(dir, "token");
    await writeFile(file, "from-file\n");
    const { config } = read({ consulToken: "inline", consulTokenFile: file });
    assert.equal(config.token, "from-file");
    assert.equal(config.tokenSource, `consulTokenFile=${file}`);
  });

  it("falls back to the token when the token file is empty, and names a missing file", async () => {
    const file = join(dir, "empty");
    await writeFile(file, "  \n");
    assert.equal(read({ consulToken: "inline", consulTokenFile: file }).config.token, "inline");
    assert.match(read({ consulTokenFile: join(dir, "nope") }).problems.join(), /ENOENT/);
  });

  it("reads CA file, client certificate and key, server name and SSL_VERIFY=false", () => {
    const { config, problems } = read({
      consulAddr: "https://127.0.0.1:8501",
      consulCaCert: certs.ca,
      consulClientCert: certs.client.cert,
      consulClientKey: certs.client.key,
      consulTlsServerName: "server.dc1.consul",
      consulSslVerify: "false",
    });
    assert.deepEqual(problems, []);
    assert.equal(config.secure, true);
    assert.equal(config.tls?.ca?.length, 1);
    assert.ok(config.tls?.cert && config.tls.key);
    assert.equal(config.tls?.serverName, "server.dc1.consul");
    assert.equal(config.tls?.verify, false);
  });

  it("reads every file of CONSUL_CAPATH and refuses a file that is no certificate", async () => {
    const caDir = join(dir, "cas");
    await mkdir(caDir);
    await copyFile(certs.ca, join(caDir, "a.pem"));
    await copyFile(certs.otherCa, join(caDir, "b.pem"));
    assert.equal(read({ consulCaPath: caDir }).config.tls?.ca?.length, 2);
    await writeFile(join(caDir, "c.txt"), "not a certificate");
    assert.match(read({ consulCaPath: caDir }).problems.join(), /c\.txt: not a PEM certificate/);
  });

  it("needs the client key with the client certificate, and the other way round", () => {
    assert.match(read({ consulClientCert: certs.client.cert }).problems.join(), /CLIENT_KEY/);
    assert.match(read({ consulClientKey: certs.client.key }).problems.join(), /CLIENT_CERT/);
  });

  it("does not switch to HTTPS for a CA alone, only for https:// or CONSUL_HTTP_SSL", () => {
    assert.equal(read({ consulCaCert: certs.ca }).config.secure, false);
    assert.equal(read({ consulSsl: "T" }).config.secure, true);
    assert.match(read({ consulSslVerify: "perhaps" }).problems.join(), /consulSslVerify=perhaps/);
  });

  it("bounds staleness only together with stale reads", () => {
    assert.equal(read({ consulStale: "true", consulMaxStale: "10" }).config.maxStaleSeconds, 10);
    assert.match(read({ consulMaxStale: "10" }).problems.join(), /needs --consul-stale/);
    assert.equal(read({ consulCached: "true" }).config.cached, true);
  });

  it("waits 15 s for the next byte of a body by default, and as long as asked within 1-300", () => {
    assert.equal(read({}).config.progressTimeoutSeconds, 15);
    assert.equal(read({ consulProgressTimeout: "2" }).config.progressTimeoutSeconds, 2);
    assert.match(read({ consulProgressTimeout: "0" }).problems.join(), /consulProgressTimeout/);
  });
});
