import { credentials, status } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createMetrics } from "../../src/observe/metrics.ts";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import {
  startDiscoveryServer,
  type DiscoveryServer,
} from "../../src/xds/server/discovery-server.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as CLA } from "../../src/xds/resources/cluster-load-assignment.ts";
import { startBackend, type BackendProcess } from "../support/backend-process.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startEnvoy, type EnvoyProxy, type EnvoyOptions } from "../support/envoy-proxy.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { endpoint } from "../support/model-fixtures.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream, type XdsConnectOptions } from "../support/xds-client.ts";
import { answeringPorts, sendRequests } from "./traffic.ts";

const TOKEN = "s3cret-xds-token";
const WARN = 40;

describe("the xDS server authenticates its clients", () => {
  let certs: TestCertificates;
  before(async () => {
    certs = await makeTestCertificates();
  });
  after(() => certs?.remove());

  describe("over gRPC, against mutual TLS and a token", () => {
    const log = memoryLogger();
    const metrics = createMetrics(false);
    let cache: ResourceCache;
    let server: DiscoveryServer;
    before(async () => {
      const store = new EndpointStore();
      store.apply([{ service: "web", endpoints: [endpoint("127.0.0.1", { port: 8081 })] }]);
      store.markReady();
      cache = new ResourceCache(store, loadXdsProtos(), 0);
      server = await startDiscoveryServer({
        cache,
        host: "127.0.0.1",
        port: 0,
        keepaliveTimeMs: 30_000,
        maxConnectionAgeMs: 600_000,
        logger: log.logger,
        tls: {
          certificate: readFileSync(certs.server.cert),
          privateKey: readFileSync(certs.server.key),
          clientCa: readFileSync(certs.ca),
        },
        token: TOKEN,
        hooks: { onRefused: (reason) => metrics.xdsRefused.inc({ reason }) },
      });
    });
    after(async () => {
      await server?.close();
      cache?.close();
    });

    const refused = async (reason: "tls" | "token"): Promise<number> =>
      (await metrics.xdsRefused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

    const mutualTls = (client = certs.client): XdsConnectOptions["credentials"] =>
      credentials.createSsl(
        readFileSync(certs.ca),
        readFileSync(client.key),
        readFileSync(client.cert),
      );
    const tlsOnly = (): XdsConnectOptions["credentials"] =>
      credentials.createSsl(readFileSync(certs.ca));

    /** Opens a stream, asks for `web`, and returns the status it ended with (or "answered"). */
    async function outcome(connect: XdsConnectOptions): Promise<number | "answered"> {
      // The certificate names localhost too; an IP is no valid SNI.
      const stream = openXdsStream(server.port, "ads", { serverName: "localhost", ...connect });
      try {
        stream.send({ node: { id: "grpc-client" }, type_url: CLA, resource_names: ["web"] });
        const answer = stream.next(5_000).then(() => "answered" as const);
        return await Promise.race([answer, stream.ended.then((s) => s.code)]);
      } finally {
        stream.close();
      }
    }

    test("the right client certificate and token get the endpoints", async () => {
      const before = await refused("token");
      const result = await outcome({
        credentials: mutualTls(),
        metadata: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(result, "answered");
      assert.equal(await refused("token"), before);
    });

    test("a missing or wrong token ends the stream UNAUTHENTICATED, logged with the peer and counted", async () => {
      const before = await refused("token");
      assert.equal(await outcome({ credentials: mutualTls() }), status.UNAUTHENTICATED);
      for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN])
        assert.equal(
          await outcome({ credentials: mutualTls(), metadata: { authorization } }),
          status.UNAUTHENTICATED,
          authorization,
        );
      assert.equal(await refused("token"), before + 4);
      const lines = log.lines.filter((l) => l.reason === "token");
      assert.equal(lines.length, 4, "logged once per refused stream");
      for (const line of lines) {
        assert.equal(line.level, WARN);
        assert.match(String(line.peer), /127\.0\.0\.1:\d+/);
        assert.ok(!JSON.stringify(line).includes(TOKEN.slice(1)), "the token is never logged");
      }
    });

    test("a plaintext client, no client certificate and another CA's certificate are refused at the handshake, logged and counted", async () => {
      const before = await refused("tls");
      const attempts: [string, XdsConnectOptions, RegExp][] = [
        ["plaintext", {}, /WRONG_VERSION_NUMBER|HTTP_REQUEST/],
        ["no client certificate", { credentials: tlsOnly() }, /^NO_CLIENT_CERTIFICATE$/],
        ["another CA", { credentials: mutualTls(certs.otherClient) }, /^UNABLE_TO_VERIFY_LEAF/],
      ];
      for (const [what, connect, code] of attempts) {
        const seen = log.lines.length;
        const result = await outcome({
          ...connect,
          metadata: { authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(result, status.UNAVAILABLE, what);
        const line = await waitFor(() => log.lines.slice(seen).find((l) => l.reason === "tls"), {
          description: `the refusal of ${what} logged`,
        });
        assert.equal(line.level, WARN, what);
        assert.match(String(line.peer), /^127\.0\.0\.1:\d+$/, what);
        assert.match(String(line.code), code, what);
      }
      assert.ok((await refused("tls")) >= before + 3);
    });
  });

  describe("with a real Envoy, Consul and the bridge", () => {
    let consul: ConsulAgent;
    let backend: BackendProcess;
    /** Serves TLS only. */
    let tlsBridge: BridgeProcess;
    /** Serves mutual TLS and wants the token, read from a file named in the environment. */
    let strictBridge: BridgeProcess;
    const envoys: EnvoyProxy[] = [];

    before(async () => {
      const tokenFile = join(certs.dir, "xds-token");
      await writeFile(tokenFile, `${TOKEN}\n`);
      consul = await startConsul();
      const tls = [`--xds-tls-cert=${certs.server.cert}`, `--xds-tls-key=${certs.server.key}`];
      [backend, tlsBridge, strictBridge] = await Promise.all([
        startBackend({ consulAddress: consul.address, register: true }),
        startBridgeProcess({ consulAddress: consul.address, extraArgs: tls }),
        startBridgeProcess({
          consulAddress: consul.address,
          extraArgs: [...tls, `--xds-client-ca=${certs.ca}`],
          env: { BRIDGE_XDS_TOKEN_FILE: tokenFile },
        }),
      ]);
    });

    after(async () => {
      await Promise.allSettled(envoys.map((envoy) => envoy.stop()));
      await Promise.allSettled([tlsBridge?.stop(), strictBridge?.stop(), backend?.stop()]);
      await consul?.stop();
    });

    async function envoy(options: EnvoyOptions): Promise<EnvoyProxy> {
      const started = await startEnvoy(options);
      envoys.push(started);
      return started;
    }

    async function trafficFlows(proxy: EnvoyProxy): Promise<void> {
      await waitFor(async () => answeringPorts(await sendRequests(proxy, 3)).has(backend.port), {
        description: "the backend answering through Envoy",
      });
      assert.ok(Number((await proxy.clusterStats("myservice")).update_success) > 0);
    }

    async function refusals(bridge: BridgeProcess, reason: "tls" | "token"): Promise<number> {
      const text = await (await fetch(`${bridge.url}/metrics`)).text();
      const line = new RegExp(`^bridge_xds_refused_total\\{reason="${reason}"\\} (\\d+)$`, "m");
      return Number(line.exec(text)?.[1] ?? 0);
    }

    /** Envoy got no assignment at all: no host, no EDS update, while the bridge refuses it. */
    async function assertRefused(proxy: EnvoyProxy, reason: "tls" | "token"): Promise<void> {
      await waitFor(async () => (await refusals(strictBridge, reason)) >= 2, {
        description: `Envoy refused (${reason}) and retrying`,
      });
      assert.deepEqual(await proxy.clusterHosts("myservice"), []);
      assert.equal((await proxy.clusterStats("myservice")).update_success ?? 0, 0);
      assert.notEqual(await proxy.serverState(), "LIVE");
      const logged = strictBridge
        .output()
        .split("\n")
        .filter((line) => line.includes(`"reason":"${reason}"`));
      assert.ok(logged.length > 0, `the refusal (${reason}) is logged`);
      assert.match(logged[0]!, /"level":40/);
      assert.match(logged[0]!, /"peer":"127\.0\.0\.1:\d+"/);
      assert.ok(!logged.join("").includes(TOKEN), "the token is never logged");
    }

    test("over TLS Envoy gets the endpoints and traffic flows", async () => {
      const proxy = await envoy({
        xdsPort: tlsBridge.xdsPort,
        xdsTls: { caFile: certs.ca, sni: "localhost" },
      });
      await trafficFlows(proxy);
    });

    test("over mutual TLS with the right token Envoy gets the endpoints and traffic flows", async () => {
      const proxy = await envoy({
        xdsPort: strictBridge.xdsPort,
        xdsTls: { caFile: certs.ca, certFile: certs.client.cert, keyFile: certs.client.key },
        xdsToken: TOKEN,
      });
      await trafficFlows(proxy);
    });

    test("with another CA's client certificate Envoy gets nothing: the bridge refuses, logs and counts it", async () => {
      const proxy = await envoy({
        xdsPort: strictBridge.xdsPort,
        xdsTls: {
          caFile: certs.ca,
          certFile: certs.otherClient.cert,
          keyFile: certs.otherClient.key,
        },
        xdsToken: TOKEN,
        waitUntil: "admin",
      });
      await assertRefused(proxy, "tls");
    });

    test("with a wrong token Envoy gets nothing: the bridge refuses, logs and counts it", async () => {
      const proxy = await envoy({
        xdsPort: strictBridge.xdsPort,
        xdsTls: { caFile: certs.ca, certFile: certs.client.cert, keyFile: certs.client.key },
        xdsToken: `${TOKEN}-wrong`,
        waitUntil: "admin",
      });
      await assertRefused(proxy, "token");
    });
  });
});
