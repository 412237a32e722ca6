import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { repoRoot } from "../support/tools.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream, type XdsTestStream } from "../support/xds-client.ts";

/** Debian's headless Chromium (`apt-get install chromium`; scripts/tools.sh provides it). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/** A plain HTTP listener the shim's TCP probe finds up, so its endpoint starts healthy. */
async function listener(): Promise<Server> {
  const server = createServer((_request, response) => response.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("the status page", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let browser: Browser;
  const servers: Server[] = [];
  const streams: XdsTestStream[] = [];
  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: run scripts/tools.sh (it installs Debian's chromium) or set CHROMIUM_PATH`,
    );
    consul = await startConsul();
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  after(async () => {
    for (const stream of streams) stream.close();
    await browser?.close();
    await bridge?.stop();
    await consul?.stop();
    for (const server of servers) server.close();
  });

  const register = async (service: string): Promise<number> => {
    const server = await listener();
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    const answer = await fetch(
      `${bridge.url}/edsservice/register?endpoint=127.0.0.1:${port}&service=${service}`,
    );
    assert.equal(answer.status, 200, await answer.text());
    return port;
  };

  test("its first HTML already shows the services and the summary, consul apart and not counted", async () => {
    const port = await register("api");
    const html = await waitFor(
      async () => {
        const text = await (await fetch(bridge.url)).text();
        return text.includes(`data-endpoint="127.0.0.1:${port}"`) && text;
      },
      { description: "api's endpoint in the HTML of /" },
    );
    assert.match(
      html,
      /<tr class="svc" data-service="api"><td colspan="4">api <span class="muted">\(1\)/,
    );
    assert.match(
      html,
      /<span id="summary">v[^<]* · serving · 1 service, 1 endpoint, 0 streams<\/span>/,
    );
    assert.match(html, /<p id="unserved" class="muted">in Consul, not served: consul<\/p>/);
    assert.doesNotMatch(html, /data-service="consul"/, "consul has no row");
    const shown = html.replace(/<script>[\s\S]*<\/script>/, "");
    assert.doesNotMatch(shown, /loading|connecting/, "nothing waits for a script");

    const state = (await (await fetch(`${bridge.url}/debug/state`)).json()) as {
      services: { name: string; exported: boolean }[];
    };
    assert.deepEqual(state.services.map(({ name, exported }) => [name, exported]).sort(), [
      ["api", true],
      ["consul", false],
    ]);
  });

  test("shows a backend registered through the shim without a reload, and an Envoy's ACK", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(bridge.url);
    // Rendered by the server: there before any script ran.
    await page.waitForSelector('tr[data-service="api"]');
    await page.waitForSelector("#live.on");
    // Anything set now would be gone after a reload.
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));

    const port = await register("web");
    await page.waitForSelector(`tr[data-endpoint="127.0.0.1:${port}"]`, { timeout: 15_000 });
    await page.waitForSelector('tr[data-endpoint] >> text="healthy"');
    assert.equal(await page.evaluate(() => "notReloaded" in globalThis), true, "no reload");
    await page.waitForSelector("#changes li >> text=/web: 1 endpoint/");

    // An Envoy-like client subscribes and ACKs: it shows as connected with its ACK.
    const ads = openXdsStream(bridge.xdsPort);
    streams.push(ads);
    ads.send({ node: { id: "envoy-edge-1" }, type_url: CLA, resource_names: ["web", "api"] });
    const first = await ads.next();
    ads.send({
      type_url: CLA,
      resource_names: ["web", "api"],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    await page.waitForSelector('#streams tr >> text="envoy-edge-1"');
    await page.waitForSelector("#streams .acked");
    await register("web");
    await page.waitForSelector('tr[data-service="web"] >> text="(2)"');
    // The client ACKs the update too, as Envoy does.
    let update = await ads.next();
    while (
      (update.assignments.find((a) => a.cluster_name === "web")?.endpoints[0]?.lb_endpoints
        .length ?? 0) < 2
    ) {
      update = await ads.next();
    }
    ads.send({
      type_url: CLA,
      resource_names: ["web", "api"],
      version_info: update.version_info,
      response_nonce: update.nonce,
    });
    await page.waitForSelector("#streams .acked");
    assert.match(
      (await page.textContent("#summary")) ?? "",
      / · 2 services, 3 endpoints, 1 stream$/,
    );
    assert.equal(await page.textContent("#unserved"), "in Consul, not served: consul");
    assert.equal(await page.locator('tr[data-service="consul"]').count(), 0);
    await page.screenshot({ path: join(repoRoot, "docs", "status-page.png") });
    assert.equal(await page.evaluate(() => "notReloaded" in globalThis), true, "still no reload");
  });
});
