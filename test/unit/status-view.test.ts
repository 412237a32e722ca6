import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { BridgeState, EndpointState } from "../../src/observe/bridge-state.ts";
import {
  escapeHtml,
  FRAGMENT_IDS,
  renderFragments,
  renderPage,
  type StatusView,
} from "../../src/http/status-view.ts";

const TEMPLATE = readFileSync(new URL("../../src/http/status-page.html", import.meta.url), "utf8");

const endpoint = (address: string, port: number, health = "healthy"): EndpointState => ({
  id: `${address}:${port}`,
  address,
  port,
  health: health as EndpointState["health"],
  weight: 1,
  region: "dc1",
  zone: "",
});

function state(overrides: Partial<BridgeState> = {}): BridgeState {
  return {
    version: "1.2.3",
    startedAt: "2026-01-01T00:00:00.000Z",
    ready: true,
    services: [
      { name: "api", exported: true, endpoints: [endpoint("10.0.0.1", 80)] },
      { name: "consul", exported: false, endpoints: [endpoint("127.0.0.1", 8300)] },
      {
        name: "web",
        exported: true,
        endpoints: [endpoint("10.0.0.2", 80), endpoint("10.0.0.3", 80, "unhealthy")],
      },
    ],
    resources: {},
    streams: [],
    consul: { watches: [] } as unknown as BridgeState["consul"],
    ...overrides,
  };
}

const view = (overrides: Partial<BridgeState> = {}): StatusView => ({
  state: state(overrides),
  changes: [],
});

describe("the status page's renderer", () => {
  it("counts only the services it serves, and lists the others apart", () => {
    const parts = renderFragments(view());
    assert.equal(parts.summary, "v1.2.3 · serving · 2 services, 3 endpoints, 0 streams");
    assert.equal(parts.unserved, "in Consul, not served: consul");
    assert.doesNotMatch(parts.services, /consul|8300/);
    assert.match(
      parts.services,
      /<tr class="svc" data-service="web"><td colspan="4">web <span class="muted">\(2\)<\/span>/,
    );
    assert.match(
      parts.services,
      /<tr data-endpoint="10\.0\.0\.3:80">.*<td class="unhealthy">unhealthy<\/td>/,
    );
  });

  it("says when nothing is served or connected, and leaves the unserved line empty", () => {
    const parts = renderFragments(view({ services: [], ready: false }));
    assert.equal(parts.summary, "v1.2.3 · waiting for Consul · 0 services, 0 endpoints, 0 streams");
    assert.match(parts.services, /no services yet/);
    assert.match(parts.streams, /no Envoy connected/);
    assert.equal(parts.unserved, "");
  });

  it("escapes every value that comes from outside: names, node ids, NACK messages, changes", () => {
    const evil = `<img src=x onerror="alert('x')">&`;
    const parts = renderFragments({
      state: state({
        services: [{ name: evil, exported: true, endpoints: [] }],
        streams: [
          {
            id: 1,
            nodeId: evil,
            peer: "127.0.0.1:1",
            service: "ads",
            mode: "sotw",
            openedAt: "2026-01-01T00:00:00.000Z",
            view: evil,
            types: [
              {
                typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                subscriptions: [],
                lastSentVersion: "2",
                lastAckedVersion: "1",
                lastNack: { version: "1", message: evil, at: "2026-01-01T10:11:12.000Z" },
              },
            ],
          },
        ],
      }),
      changes: [{ at: "2026-01-01T10:11:12.000Z", kind: "service", text: evil }],
    });
    for (const id of FRAGMENT_IDS) assert.doesNotMatch(parts[id], /<img/, id);
    assert.match(parts.streams, /Cluster <span class="pending">pending<\/span> <span class="nack"/);
    assert.match(
      parts.streams,
      /NACK <time datetime="2026-01-01T10:11:12.000Z"[^>]*>10:11:12<\/time>/,
    );
    assert.equal(escapeHtml(`a<b>"c'&`), "a&lt;b&gt;&quot;c&#39;&amp;");
  });

  it("lists the recent changes newest first", () => {
    const parts = renderFragments({
      state: state(),
      changes: [
        { at: "2026-01-01T10:00:00.000Z", kind: "service", text: "web: 1 endpoint" },
        { at: "2026-01-01T10:00:05.000Z", kind: "service", text: "web: 2 endpoints" },
      ],
    });
    assert.ok(parts.changes.indexOf("2 endpoints") < parts.changes.indexOf("1 endpoint"));
  });

  it("fills every part of the page in its first HTML, nothing left loading", () => {
    const page = renderPage(TEMPLATE, renderFragments(view()));
    for (const id of FRAGMENT_IDS) assert.doesNotMatch(page, new RegExp(`<!--${id}-->`), id);
    assert.match(page, /<span id="summary">v1\.2\.3 · serving · 2 services/);
    assert.match(page, /<tbody id="services">\s*<tr class="svc" data-service="api">/);
    assert.match(page, /<p id="unserved" class="muted">in Consul, not served: consul<\/p>/);
    assert.doesNotMatch(page, /loading/);
  });

  it("puts a fragment in as written, even one holding $ patterns", () => {
    const page = renderPage(TEMPLATE, {
      ...renderFragments(view()),
      summary: "$& $1 $$",
    });
    assert.match(page, /<span id="summary">\$& \$1 \$\$<\/span>/);
  });
});
