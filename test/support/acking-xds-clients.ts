import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../../src/xds/resources/cluster-load-assignment.ts";
import {
  openDeltaXdsStream,
  openXdsStream,
  type DecodedDeltaResponse,
  type DecodedResponse,
} from "./xds-client.ts";

/** Endpoints of each assignment a client holds: `ADDRESS:PORT` → health status, by cluster name. */
export type AssignmentView = Map<string, Map<string, string>>;

/** xDS clients that stay subscribed and ACK every response; see {@link openAckingXdsClients}. */
export interface AckingXdsClients {
  /** What each client holds now, one view per client. */
  views(): AssignmentView[];
  /** Responses received, all clients together. */
  readonly responses: number;
  /** Streams that ended while the clients were open (each was opened again). */
  readonly reconnects: number;
  close(): Promise<void>;
}

/** Options of {@link openAckingXdsClients}. */
export interface AckingXdsClientOptions {
  count: number;
  /** Assignments each client subscribes to. */
  resourceNames: readonly string[];
}

type Assignment = DecodedResponse["assignments"][number];

/** The endpoints of an assignment as `ADDRESS:PORT` → health status (UNKNOWN when not sent). */
function endpointsOf(assignment: Assignment): Map<string, string> {
  const endpoints = new Map<string, string>();
  for (const locality of assignment.endpoints ?? [])
    for (const { endpoint, health_status } of locality.lb_endpoints ?? []) {
      const { address, port_value } = endpoint.address.socket_address;
      endpoints.set(`${address}:${port_value}`, health_status || "UNKNOWN");
    }
  return endpoints;
}

/**
 * Opens `count` ADS streams to `127.0.0.1:port`, every other one delta, each subscribing to the
 * assignments `resourceNames` and ACKing each response, as a well-behaved Envoy does. A stream
 * the server ends (its maximum connection age) is opened again with a fresh subscription.
 */
export function openAckingXdsClients(
  port: number,
  { count, resourceNames }: AckingXdsClientOptions,
): AckingXdsClients {
  const names = [...resourceNames];
  const views: AssignmentView[] = Array.from({ length: count }, () => new Map());
  let open = true;
  let responses = 0;
  let reconnects = 0;
  const closers = new Set<() => void>();

  /** Reads and ACKs until the stream ends or the clients close; resolves then. */
  const pump = async <T>(
    stream: {
      next(timeoutMs: number): Promise<T>;
      readonly ended: Promise<unknown>;
      close(): void;
    },
    handle: (response: T) => void,
  ): Promise<void> => {
    let ended = false;
    void stream.ended.then(() => (ended = true));
    closers.add(stream.close);
    while (open && !ended) {
      let response: T;
      try {
        response = await stream.next(1_000);
      } catch {
        continue; // nothing new within a second: look again, unless the stream ended
      }
      responses += 1;
      handle(response);
    }
    closers.delete(stream.close);
    stream.close();
  };

  const runStateOfTheWorld = (index: number): Promise<void> => {
    const stream = openXdsStream(port);
    const request = {
      node: { id: `soak-sotw-${index}` },
      type_url: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resource_names: names,
    };
    stream.send(request);
    // EDS in state of the world may carry only the changed assignments (docs/architecture.md §4).
    return pump(stream, (response) => {
      for (const assignment of response.assignments)
        views[index]!.set(assignment.cluster_name, endpointsOf(assignment));
      stream.send({
        ...request,
        version_info: response.version_info,
        response_nonce: response.nonce,
      });
    });
  };

  const runDelta = (index: number): Promise<void> => {
    const stream = openDeltaXdsStream(port);
    stream.send({
      node: { id: `soak-delta-${index}` },
      type_url: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
      resource_names_subscribe: names,
    });
    return pump(stream, (response: DecodedDeltaResponse) => {
      response.resources.forEach((resource, i) =>
        views[index]!.set(response.names[i]!, endpointsOf(resource as unknown as Assignment)),
      );
      for (const name of response.removed) views[index]!.delete(name);
      stream.ack(response);
    });
  };

  const client = async (index: number): Promise<void> => {
    for (let first = true; open; first = false) {
      if (!first) reconnects += 1;
      views[index]!.clear();
      await (index % 2 === 0 ? runStateOfTheWorld(index) : runDelta(index));
    }
  };
  const running = Array.from({ length: count }, (_, index) => client(index));

  return {
    views: () => views,
    get responses() {
      return responses;
    },
    get reconnects() {
      return reconnects;
    },
    async close() {
      open = false;
      for (const close of closers) close();
      await Promise.all(running);
    },
  };
}
