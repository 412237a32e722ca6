import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { SharedResponses } from "../../src/xds/cache/shared-responses.ts";
import { cutClientText, FirstSeen } from "../../src/xds/protocol/client-text.ts";
import { SOTW_PROTOCOL, type DiscoveryRequest } from "../../src/xds/protocol/sotw-protocol.ts";
import { logStreamError, XdsStream } from "../../src/xds/protocol/xds-stream.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import type { ResourceTypeUrl } from "../../src/xds/resources/resource-types.ts";
import { memoryLogger } from "../support/memory-logger.ts";
import { endpoint, service } from "../support/model-fixtures.ts";

const DEBUG = 20;
const WARN = 40;

describe("logStreamError", () => {
  it("logs a client that hung up (CANCELLED) at debug", () => {
    const log = memoryLogger();
    logStreamError(
      log.logger,
      "envoy-1",
      Object.assign(new Error("cancelled"), { code: status.CANCELLED }),
    );
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.node, l.msg]),
      [[DEBUG, "envoy-1", "client went away"]],
    );
  });

  it("logs any other stream failure at warn, with its code", () => {
    const log = memoryLogger();
    const error = Object.assign(new Error("boom"), { code: status.INTERNAL });
    logStreamError(log.logger, "envoy-1", error);
    assert.equal(log.lines[0]?.level, WARN);
    assert.equal(log.lines[0]?.code, status.INTERNAL);
  });
});

/** A gRPC server call the test drives: requests in, written responses decoded. */
class FakeCall extends EventEmitter {
  readonly written: { nonce: string; version_info: string; type_url: string }[] = [];
  ended = false;

  write(bytes: Buffer, done: () => void): boolean {
    const decoded = loadXdsProtos().discoveryResponse.decode(bytes);
    this.written.push(decoded as unknown as FakeCall["written"][number]);
    done();
    return true;
  }

  end(): void {
    this.ended = true;
  }

  getPeer(): string {
    return "ipv4:127.0.0.1:1";
  }
}

/** A state-of-the-world stream over a real cache and fake call, with what it reported. */
function sotwStream(options: { onlyType?: ResourceTypeUrl; maxNames?: number } = {}) {
  const store = new EndpointStore();
  store.apply([service("web", endpoint("10.0.0.1"))]);
  store.markReady();
  const cache = new ResourceCache(store, loadXdsProtos(), 0);
  const protos = loadXdsProtos();
  const responses = new SharedResponses(cache, {
    envelopes: { sotw: protos.discoveryResponse, delta: protos.deltaDiscoveryResponse },
  });
  const call = new FakeCall();
  const log = memoryLogger();
  const requests: [string, string][] = [];
  const nacks: [string, string][] = [];
  const nodes: string[] = [];
  new XdsStream({
    call: call as unknown as ServerDuplexStream<DiscoveryRequest, Buffer>,
    protocol: SOTW_PROTOCOL,
    cache,
    responses,
    logger: log.logger,
    onlyType: options.onlyType,
    maxNames: options.maxNames,
    hooks: {
      onRequest: (kind, typeUrl) => requests.push([kind, typeUrl]),
      onNack: (_node, _typeUrl, message) => nacks.push([_node, message]),
    },
    reporter: {
      node: (nodeId) => nodes.push(nodeId),
      view: () => undefined,
      subscribed: () => undefined,
      sent: () => undefined,
      acked: () => undefined,
      nacked: () => undefined,
      closed: () => undefined,
    },
  });
  const send = (request: Partial<DiscoveryRequest>): void => {
    call.emit("data", {
      type_url: CDS,
      resource_names: [],
      response_nonce: "",
      version_info: "",
      error_detail: null,
      ...request,
    });
  };
  return { store, cache, call, log, requests, nacks, nodes, send };
}

const LONG = "x".repeat(1_000_000);

describe("XdsStream: what a client sends is counted, logged once, and cut", () => {
  it("counts every NACK and logs it once per rejected version, its message cut to 1 KB", () => {
    const { store, call, log, nacks, send } = sotwStream();
    send({ node: { id: "envoy-1" } });
    const first = call.written.at(-1)!;
    const nack = { code: 3, message: LONG };
    for (let i = 0; i < 30; i++) send({ response_nonce: first.nonce, error_detail: nack });
    assert.equal(nacks.length, 30, "every NACK is counted");
    const logged = () => log.lines.filter((line) => /NACK/.test(line.msg));
    assert.equal(logged().length, 1, "one line for one rejected version");
    assert.equal(logged()[0]!.rejected, first.version_info);
    assert.equal(logged()[0]!.node, "envoy-1");
    for (const [, message] of nacks) assert.ok(Buffer.byteLength(message) < 1_100);
    assert.match(nacks[0]![1], /^x+… \(cut, 1000000 bytes\)$/);

    const meta = { meta: { "envoy-lb-policy": "maglev" } };
    store.apply([service("web", endpoint("10.0.0.1", meta))]);
    const second = call.written.at(-1)!;
    assert.notEqual(second.nonce, first.nonce);
    send({ response_nonce: second.nonce, error_detail: nack });
    assert.equal(logged().length, 2, "a newly rejected version is logged");
    assert.ok(log.lines.every((line) => JSON.stringify(line).length < 4_000));
  });

  it("counts every request of a type it does not serve and logs each type once, cut", () => {
    const { log, requests, send } = sotwStream({ onlyType: EDS });
    for (let i = 0; i < 5; i++) send({ type_url: "type.example/Unknown" });
    for (let i = 0; i < 5; i++) send({ type_url: LONG });
    send({ type_url: CDS });
    assert.deepEqual(
      requests.filter(([kind]) => kind === "unsupported").map(([, label]) => label),
      [...Array<string>(10).fill("other"), CDS],
      "counted every time; a type URL nobody serves is no label",
    );
    const logged = log.lines.filter((line) => /does not serve/.test(line.msg));
    assert.equal(logged.length, 3, "once per type");
    assert.ok(logged.every((line) => String(line.typeUrl).length < 1_100));
  });

  it("takes the node from the first request that names one, cut to 1 KB", () => {
    const { nodes, send } = sotwStream();
    send({ node: { id: LONG } });
    send({ node: { id: "another" } });
    assert.equal(nodes.length, 1);
    assert.match(nodes[0]!, /… \(cut, 1000000 bytes\)$/);
  });
});

describe("cutClientText and FirstSeen", () => {
  it("leaves short text alone and cuts long text at a character, saying how long it was", () => {
    assert.equal(cutClientText("bad endpoint"), "bad endpoint");
    assert.equal(cutClientText("é".repeat(512)), "é".repeat(512), "1,024 bytes exactly");
    assert.equal(cutClientText("é".repeat(600), 5), "éé… (cut, 1200 bytes)");
  });

  it("remembers a bounded number of keys, the oldest forgotten first", () => {
    const seen = new FirstSeen(2);
    assert.deepEqual(
      ["a", "a", "b", "c", "a"].map((key) => seen.first(key)),
      [true, false, true, true, true],
    );
  });
});

describe("XdsStream: the names a stream holds", () => {
  const ghosts = Array.from({ length: 100 }, (_, i) => `ghost-${i}`);

  it("keeps what a stream subscribes to, and drops it when the stream unsubscribes or ends", () => {
    const { cache, call, send } = sotwStream();
    const encodings = () => cache.encodingsByType()[EDS];
    send({ type_url: EDS, resource_names: ghosts });
    assert.equal(encodings(), 100);
    ghosts.forEach((name) => cache.get(EDS, name));
    assert.equal(encodings(), 100, "kept while subscribed");
    send({ type_url: EDS, resource_names: ghosts.slice(0, 10), response_nonce: "1" });
    ghosts.forEach((name) => cache.get(EDS, name));
    assert.equal(encodings(), 190, "the 90 names unsubscribed were dropped");
    call.emit("cancelled");
    ghosts.slice(0, 10).forEach((name) => cache.get(EDS, name));
    assert.equal(encodings(), 200, "and the rest when the stream ended");
  });

  it("ends a stream subscribing to more names than allowed with RESOURCE_EXHAUSTED", () => {
    const { cache, call, log, send } = sotwStream({ maxNames: 50 });
    const ended: { code: number; details: string }[] = [];
    call.on("error", (error: { code: number; details: string }) => ended.push(error));
    send({ type_url: EDS, resource_names: ghosts.slice(0, 50) });
    assert.equal(ended.length, 0);
    send({ type_url: EDS, resource_names: ghosts, response_nonce: "1" });
    assert.equal(ended[0]?.code, status.RESOURCE_EXHAUSTED);
    assert.match(ended[0]!.details, /100 resource names; the limit is 50 \(--xds-max-names\)/);
    assert.equal(log.lines.filter((line) => /limit is 50/.test(line.msg)).length, 1);
    const before = cache.encodingsByType()[EDS];
    cache.get(EDS, "ghost-0");
    assert.equal(cache.encodingsByType()[EDS], before + 1, "what it held was released");
    send({ type_url: EDS, resource_names: ghosts, response_nonce: "2" });
    assert.equal(ended.length, 1, "nothing more is taken from it");
  });

  it("ends a stream subscribing to an overlong name with INVALID_ARGUMENT", () => {
    const { call, send } = sotwStream();
    const ended: { code: number; details: string }[] = [];
    call.on("error", (error: { code: number; details: string }) => ended.push(error));
    send({ type_url: EDS, resource_names: ["web", LONG] });
    assert.equal(ended[0]?.code, status.INVALID_ARGUMENT);
    assert.ok(ended[0]!.details.length < 300);
  });
});
