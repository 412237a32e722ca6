import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import {
  createServer as createHttp2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { PROTOS_DIR } from "../src/xds/resources/proto-tree.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../src/xds/resources/cluster-load-assignment.ts";
import { floorFeedHandler, type FeedInstance } from "./floor-feed.ts";
import { GrpcFrameReader } from "./floor-grpc-frames.ts";
import {
  framedAssignmentResponse,
  loadFloorProtos,
  type FloorProtos,
  type FloorRequest,
} from "./floor-response.ts";

/**
 * The fan-out floor: an ADS server on bare `node:http2` — no grpc-js and none of the bridge's
 * logic — doing the least a correct state-of-the-world EDS server can. Each update is encoded
 * and framed once into one buffer, with one version and nonce, and that buffer is written to
 * every subscribed stream; a stream's first request subscribes it and is answered with the
 * current assignment; later requests (ACKs, NACKs) are read and decoded but change nothing.
 * Fed over the Go reference server's HTTP API (floor-feed.ts), it prints
 * `{"xdsPort":N,"httpPort":M}` on stdout once listening, then serves until SIGTERM or SIGINT.
 *
 *     node --import tsx bench/http2-floor-server.ts [--protos DIR]
 */

const ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
/** gRPC status codes used here (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
const GRPC_OK = 0;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_INTERNAL = 13;

/** Assignments by service, and the streams subscribed to each. */
class FloorServer {
  private readonly epoch = Date.now().toString(36);
  private serial = 0;
  private readonly current = new Map<string, Buffer>();
  private readonly subscribers = new Map<string, Set<ServerHttp2Stream>>();

  constructor(private readonly protos: FloorProtos) {}

  /** Encodes the service's new assignment once and writes the same frame to each subscriber. */
  publish(service: string, instances: readonly FeedInstance[]): void {
    const nonce = (++this.serial).toString(36);
    const stamp = { version: `${this.epoch}-${nonce}`, nonce };
    const frame = framedAssignmentResponse(this.protos, service, instances, stamp);
    this.current.set(service, frame);
    for (const stream of this.subscribers.get(service) ?? []) stream.write(frame);
  }

  /** Serves one HTTP/2 stream: ADS, or UNIMPLEMENTED for any other method. */
  serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on("error", () => {}); // a reset by the client; "close" follows
    if (headers[":path"] !== ADS_PATH) {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": GRPC_UNIMPLEMENTED },
        { endStream: true },
      );
      return;
    }
    let status = GRPC_OK;
    let subscribed: readonly string[] | undefined;
    const reader = new GrpcFrameReader();
    stream.respond(
      { ":status": 200, "content-type": "application/grpc" },
      { waitForTrailers: true },
    );
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": status }));
    stream.on("data", (chunk: Buffer) => {
      if (status !== GRPC_OK) return;
      try {
        for (const message of reader.push(chunk)) {
          const request = this.protos.discoveryRequest.decode(message) as FloorRequest;
          subscribed ??= this.subscribe(stream, request);
        }
      } catch {
        status = GRPC_INTERNAL; // a malformed frame or request
        stream.end();
      }
    });
    // The client half-closed: the stream ends with OK.
    stream.on("end", () => stream.end());
    stream.on("close", () => {
      for (const name of subscribed ?? []) this.subscribers.get(name)?.delete(stream);
    });
  }

  /** The first request: its assignments are subscribed and sent as they are now. */
  private subscribe(stream: ServerHttp2Stream, request: FloorRequest): readonly string[] {
    if (request.type_url !== CLUSTER_LOAD_ASSIGNMENT_TYPE_URL) return [];
    const names = request.resource_names ?? [];
    for (const name of names) {
      let streams = this.subscribers.get(name);
      if (!streams) this.subscribers.set(name, (streams = new Set()));
      streams.add(stream);
      const frame = this.current.get(name);
      if (frame) stream.write(frame);
    }
    return names;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { protos: { type: "string", default: PROTOS_DIR } } });
  const floor = new FloorServer(loadFloorProtos(values.protos));
  const xds = createHttp2Server();
  xds.on("stream", (stream, headers) => floor.serve(stream, headers));
  const feed = createHttpServer(floorFeedHandler((service, list) => floor.publish(service, list)));
  xds.listen(0, "127.0.0.1");
  feed.listen(0, "127.0.0.1");
  await Promise.all([once(xds, "listening"), once(feed, "listening")]);
  const port = (server: { address(): unknown }) => (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ xdsPort: port(xds), httpPort: port(feed) })}\n`);
  // A normal exit, so that `--cpu-prof` writes its profile.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`http2-floor-server: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
