import { connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../../src/xds/resources/cluster-load-assignment.ts";

/** xDS clients that subscribed and then never read; see {@link openStalledXdsClients}. */
export interface StalledXdsClients {
  readonly count: number;
  /**
   * Bytes of responses each client has received but not consumed, summed; a client that never
   * reads stops at its HTTP/2 flow-control window (64 KiB), whatever the server has to send.
   */
  unreadBytes(): number;
  /** Streams or connections that ended or failed (the server is expected to keep them open). */
  broken(): number;
  close(): Promise<void>;
}

/** Options of {@link openStalledXdsClients}. */
export interface StalledXdsClientOptions {
  count: number;
  /** EDS resources each client subscribes to. */
  resourceNames: string[];
  /** Connections opened at once (default 50). */
  batch?: number;
}

/** HTTP/2's default initial window, which these clients never replenish. */
const INITIAL_WINDOW = 65_535;

/**
 * Opens `count` ADS streams to `127.0.0.1:port`, each on its own HTTP/2 connection, sends one
 * DiscoveryRequest subscribing to `resourceNames`, and never reads: no `data` listener is
 * attached, so Node's HTTP/2 stream stays paused and sends no WINDOW_UPDATE. The server sees
 * its writes blocked (gRPC backpressure) once the window and its own buffer are full. The
 * connections still answer HTTP/2 pings, as a stuck but alive client does.
 */
export async function openStalledXdsClients(
  port: number,
  { count, resourceNames, batch = 50 }: StalledXdsClientOptions,
): Promise<StalledXdsClients> {
  const method = loadXdsProtos().adsService.StreamAggregatedResources!;
  const sessions: ClientHttp2Session[] = [];
  const streams: ClientHttp2Stream[] = [];
  let broken = 0;
  const open = async (index: number): Promise<void> => {
    const session = connect(`http://127.0.0.1:${port}`);
    sessions.push(session);
    session.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    const stream = session.request({
      ":method": "POST",
      ":path": method.path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    streams.push(stream);
    stream.on("error", () => undefined);
    stream.once("close", () => (broken += 1));
    const message = method.requestSerialize({
      node: { id: `stalled-${index}`, cluster: "stalled" },
      type_url: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resource_names: resourceNames,
    });
    // gRPC length-prefixed message: no compression flag, then the length, big-endian.
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    stream.write(Buffer.concat([prefix, message]));
  };
  for (let start = 0; start < count; start += batch) {
    const indexes = Array.from({ length: Math.min(batch, count - start) }, (_, i) => start + i);
    await Promise.all(indexes.map(open));
  }
  return {
    count,
    unreadBytes: () =>
      streams.reduce(
        (sum, stream) => sum + (INITIAL_WINDOW - (stream.state.localWindowSize ?? INITIAL_WINDOW)),
        0,
      ),
    broken: () => broken,
    async close() {
      await Promise.all(
        sessions.map(
          (session) =>
            new Promise<void>((resolve) => {
              if (session.destroyed) return resolve();
              session.once("close", () => resolve());
              session.destroy();
            }),
        ),
      );
    },
  };
}
