import type { BridgeState, EndpointState } from "../observe/bridge-state.ts";
import type { FeedEvent } from "../observe/event-feed.ts";
import type { StreamSnapshot } from "../xds/protocol/stream-registry.ts";

/**
 * The status page's one renderer: pure functions of the bridge state and the recent changes into
 * HTML fragments, every value escaped. The first HTML of `/` and every live update (the page
 * fetches the fragments again on each `/events` message) come from here.
 */

/** What the page shows: the state of `/debug/state` and the feed's recent changes, oldest first. */
export interface StatusView {
  state: BridgeState;
  changes: readonly FeedEvent[];
}

/** The page's live parts, by the id of the element each one fills. */
export interface StatusFragments {
  summary: string;
  services: string;
  unserved: string;
  streams: string;
  changes: string;
}

/** The ids of {@link StatusFragments}, in page order. */
export const FRAGMENT_IDS = ["summary", "services", "unserved", "streams", "changes"] as const;

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` safe in HTML content and in quoted attribute values. */
export function escapeHtml(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** Every fragment of the page for `view`. */
export function renderFragments(view: StatusView): StatusFragments {
  const exported = view.state.services.filter((service) => service.exported);
  const unserved = view.state.services.filter((service) => !service.exported);
  return {
    summary: renderSummary(view.state, exported),
    services: renderServices(exported),
    unserved: unserved.length
      ? `in Consul, not served: ${unserved.map((service) => escapeHtml(service.name)).join(", ")}`
      : "",
    streams: renderStreams(view.state.streams),
    changes: view.changes.map(renderChange).reverse().join(""),
  };
}

/**
 * The page: `template` with each `<!--ID-->` marker (one per fragment id) replaced by its
 * fragment, so the first HTML already shows the state.
 */
export function renderPage(template: string, fragments: StatusFragments): string {
  let page = template;
  for (const id of FRAGMENT_IDS) page = page.replace(`<!--${id}-->`, () => fragments[id]);
  return page;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** Version, readiness and counts, of served services only. */
function renderSummary(state: BridgeState, exported: BridgeState["services"]): string {
  const endpoints = exported.reduce((n, service) => n + service.endpoints.length, 0);
  return escapeHtml(
    `v${state.version} · ${state.ready ? "serving" : "waiting for Consul"} · ` +
      `${count(exported.length, "service")}, ${count(endpoints, "endpoint")}, ` +
      `${count(state.streams.length, "stream")}`,
  );
}

function renderServices(services: BridgeState["services"]): string {
  if (services.length === 0) return '<tr><td colspan="4" class="muted">no services yet</td></tr>';
  return services
    .map((service) => {
      const name = escapeHtml(service.name);
      const head =
        `<tr class="svc" data-service="${name}"><td colspan="4">${name} ` +
        `<span class="muted">(${service.endpoints.length})</span></td></tr>`;
      return head + service.endpoints.map(renderEndpoint).join("");
    })
    .join("");
}

function renderEndpoint(endpoint: EndpointState): string {
  const address = `${escapeHtml(endpoint.address)}:${endpoint.port}`;
  const health = escapeHtml(endpoint.health);
  const locality = escapeHtml(
    endpoint.zone ? `${endpoint.region}/${endpoint.zone}` : endpoint.region,
  );
  return (
    `<tr data-endpoint="${address}"><td><code>${address}</code></td>` +
    `<td class="${health}">${health}</td><td>${endpoint.weight}</td>` +
    `<td class="muted">${locality}</td></tr>`
  );
}

/** `HH:MM:SS` of an ISO-8601 time (UTC, as the server knows it); the full time in its title. */
function clock(iso: string): string {
  return `<time datetime="${escapeHtml(iso)}" title="${escapeHtml(iso)}">${escapeHtml(iso.slice(11, 19))}</time>`;
}

function renderStreams(streams: readonly StreamSnapshot[]): string {
  if (streams.length === 0) return '<tr><td colspan="4" class="muted">no Envoy connected</td></tr>';
  return streams
    .map((stream) => {
      const types = stream.types
        .map((type) => {
          const state =
            type.lastAckedVersion && type.lastAckedVersion === type.lastSentVersion
              ? `<span class="acked" title="${escapeHtml(type.lastAckedVersion)}">ACK</span>`
              : '<span class="pending">pending</span>';
          const nack = type.lastNack
            ? ` <span class="nack" title="${escapeHtml(type.lastNack.message)}">NACK ${clock(type.lastNack.at)}</span>`
            : "";
          return `${escapeHtml(type.typeUrl.split(".").pop() ?? type.typeUrl)} ${state}${nack}`;
        })
        .join("<br>");
      return (
        `<tr><td><code>${escapeHtml(stream.nodeId)}</code></td>` +
        `<td>${escapeHtml(stream.service)}/${escapeHtml(stream.mode)}</td>` +
        // The node's view (docs/architecture.md §4): the services it asked for, or all of them.
        `<td>${stream.view ? `<code>${escapeHtml(stream.view)}</code>` : '<span class="muted">all services</span>'}</td>` +
        `<td>${types || '<span class="muted">no request yet</span>'}</td></tr>`
      );
    })
    .join("");
}

function renderChange(event: FeedEvent): string {
  return `<li>${clock(event.at)}${escapeHtml(event.text)}</li>`;
}
