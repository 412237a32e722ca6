import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  type ChannelCredentials,
  type ClientDuplexStream,
  type ServiceDefinition,
  type StatusObject,
} from "@grpc/grpc-js";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from "../../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { RESOURCE_TYPES } from "../../src/xds/resources/resource-types.ts";
import { decodeResource, TYPE_URL_OF_KIND, type ResourceKind } from "./decode-resource.ts";

/** A decoded DiscoveryResponse: its resources decoded, and its assignments typed. */
export interface DecodedResponse {
  version_info: string;
  nonce: string;
  type_url: string;
  /** Names of the resources, in response order (`name`, or `cluster_name` of assignments). */
  names: string[];
  /** Every resource, decoded (nested Anys as `"@type"` objects). */
  resources: Record<string, unknown>[];
  /** The ClusterLoadAssignments among the resources. */
  assignments: {
    cluster_name: string;
    endpoints: {
      lb_endpoints: {
        endpoint: { address: { socket_address: { address: string; port_value: number } } };
        health_status: string;
      }[];
    }[];
  }[];
}

/** The node a request names: its id and, optionally, metadata (a google.protobuf.Struct). */
export interface TestNode {
  id: string;
  metadata?: { fields: Record<string, unknown> };
}

/** Node metadata asking for a view: `consul-services` as a string, or as a list of strings. */
export function viewMetadata(view: string | string[]): TestNode["metadata"] {
  const value =
    typeof view === "string"
      ? { string_value: view }
      : { list_value: { values: view.map((each) => ({ string_value: each })) } };
  return { fields: { "consul-services": value } };
}

/** A request a test sends (proto field names). */
export interface TestRequest {
  node?: TestNode;
  type_url?: string;
  resource_names?: string[];
  response_nonce?: string;
  version_info?: string;
  error_detail?: { code: number; message: string };
}

/** A raw xDS stream over real gRPC, for protocol tests: send requests, await responses. */
export interface XdsTestStream {
  send(request: TestRequest): void;
  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs?: number): Promise<DecodedResponse>;
  /** Resolves true if no response arrives within `ms`. */
  quietFor(ms: number): Promise<boolean>;
  /** The status the stream ended with (e.g. UNAUTHENTICATED), once it has ended. */
  readonly ended: Promise<StatusObject>;
  close(): void;
}

/** How a test stream connects: credentials (default plaintext) and call metadata. */
export interface XdsConnectOptions {
  credentials?: ChannelCredentials;
  /** Sent with the call, e.g. `{ authorization: "Bearer TOKEN" }`. */
  metadata?: Record<string, string>;
  /** Name the server certificate is checked against (default the address, 127.0.0.1). */
  serverName?: string;
}

/** The discovery services a test stream can open. */
export type XdsServiceKind = "ads" | "eds" | "cds" | "lds" | "rds";

/** The gRPC service and method of a kind of stream, state of the world or delta. */
function methodOf(
  service: XdsServiceKind,
  mode: "sotw" | "delta",
): { definition: ServiceDefinition; method: string } {
  const protos = loadXdsProtos();
  if (service === "ads") {
    const method = mode === "sotw" ? "StreamAggregatedResources" : "DeltaAggregatedResources";
    return { definition: protos.adsService, method };
  }
  const type = RESOURCE_TYPES.find((each) => each.grpc.label === service)!;
  return { definition: protos.service(type.typeUrl), method: type.grpc[mode] };
}

const KIND_OF_TYPE: Record<string, ResourceKind> = Object.fromEntries(
  Object.entries(TYPE_URL_OF_KIND).map(([kind, typeUrl]) => [typeUrl, kind as ResourceKind]),
);

/** A resource Any decoded, or just its `"@type"` when it is of a kind the tests do not decode. */
function decodeAny(any: { type_url: string; value: Buffer }): Record<string, unknown> {
  const kind = KIND_OF_TYPE[any.type_url];
  return kind ? decodeResource(kind, any.value) : { "@type": any.type_url };
}

/** Opens bidirectional call `method` of a discovery service on a client to `127.0.0.1:port`. */
function openCall<Request>(
  definition: Parameters<typeof makeGenericClientConstructor>[0],
  clientName: string,
  method: string,
  port: number,
  connect: XdsConnectOptions = {},
): { call: ClientDuplexStream<Request, Record<string, unknown>>; close(): void } {
  const Client = makeGenericClientConstructor(definition, clientName);
  const client = new Client(
    `127.0.0.1:${port}`,
    connect.credentials ?? credentials.createInsecure(),
    connect.serverName ? { "grpc.ssl_target_name_override": connect.serverName } : {},
  );
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(connect.metadata ?? {})) metadata.set(key, value);
  const call = (
    client as unknown as Record<
      string,
      (metadata: Metadata) => ClientDuplexStream<Request, Record<string, unknown>>
    >
  )[method]!.call(client, metadata);
  call.on("error", () => undefined);
  return {
    call,
    close() {
      call.cancel();
      client.close();
    },
  };
}

/** Responses in arrival order, each awaited by at most one `next`. */
function responseQueue<T>(label: string): {
  push(response: T): void;
  next(timeoutMs?: number): Promise<T>;
  quietFor(ms: number): Promise<boolean>;
} {
  const queue: T[] = [];
  const waiters: ((response: T) => void)[] = [];
  const next = (timeoutMs = 5_000): Promise<T> => {
    const queued = queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(done), 1);
        reject(new Error(`no ${label} response within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (response: T): void => {
        clearTimeout(timer);
        resolve(response);
      };
      waiters.push(done);
    });
  };
  return {
    push(response) {
      const waiter = waiters.shift();
      if (waiter) waiter(response);
      else queue.push(response);
    },
    next,
    async quietFor(ms) {
      try {
        queue.unshift(await next(ms));
        return false;
      } catch {
        return true;
      }
    },
  };
}

/** Opens an ADS (default), EDS, CDS, LDS or RDS stream to `127.0.0.1:port`. */
export function openXdsStream(
  port: number,
  service: XdsServiceKind = "ads",
  connect: XdsConnectOptions = {},
): XdsTestStream {
  const assignment = loadXdsProtos().resource(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
  const { definition, method } = methodOf(service, "sotw");
  const { call, close } = openCall<TestRequest>(definition, service, method, port, connect);
  const ended = new Promise<StatusObject>((resolve) => call.on("status", resolve));
  const responses = responseQueue<DecodedResponse>("xDS");
  call.on(
    "data",
    (raw: {
      version_info: string;
      nonce: string;
      type_url: string;
      resources: { type_url: string; value: Buffer }[];
    }) => {
      const resources = raw.resources.map(decodeAny);
      const decoded: DecodedResponse = {
        version_info: raw.version_info,
        nonce: raw.nonce,
        type_url: raw.type_url,
        names: resources.map((r) => String(r.name ?? r.cluster_name ?? "")),
        resources,
        assignments: raw.resources
          .filter((any) => KIND_OF_TYPE[any.type_url] === "clusterLoadAssignment")
          .map(
            (any) =>
              assignment.toObject(assignment.decode(any.value), {
                enums: String,
                defaults: true,
              }) as DecodedResponse["assignments"][number],
          ),
      };
      responses.push(decoded);
    },
  );
  return {
    ended,
    send: (request) => call.write(request),
    next: responses.next,
    quietFor: responses.quietFor,
    close,
  };
}

/** A DeltaDiscoveryRequest a test sends (proto field names). */
export interface DeltaTestRequest {
  node?: TestNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}

/** A decoded DeltaDiscoveryResponse. */
export interface DecodedDeltaResponse {
  system_version_info: string;
  nonce: string;
  type_url: string;
  /** Names of the resources sent, in response order. */
  names: string[];
  /** Each resource's own version, by name. */
  versions: Record<string, string>;
  /** Every resource, decoded (nested Anys as `"@type"` objects). */
  resources: Record<string, unknown>[];
  removed: string[];
  /** Size of the response as encoded on the wire (protobuf bytes, without gRPC framing). */
  bytes: number;
}

/** A raw delta xDS stream over real gRPC: send requests, await responses. */
export interface DeltaXdsTestStream {
  send(request: DeltaTestRequest): void;
  /** Sends an ACK of `response`. */
  ack(response: DecodedDeltaResponse): void;
  /** The next response, or an error after `timeoutMs`. */
  next(timeoutMs?: number): Promise<DecodedDeltaResponse>;
  /** Resolves true if no response arrives within `ms`. */
  quietFor(ms: number): Promise<boolean>;
  /** The status the stream ended with, once it has ended. */
  readonly ended: Promise<StatusObject>;
  close(): void;
}

/** Opens an incremental (delta) ADS (default), EDS, CDS, LDS or RDS stream to 127.0.0.1. */
export function openDeltaXdsStream(
  port: number,
  service: XdsServiceKind = "ads",
): DeltaXdsTestStream {
  const { definition, method } = methodOf(service, "delta");
  const { call, close } = openCall<DeltaTestRequest>(definition, `delta-${service}`, method, port);
  const responseType = loadXdsProtos().deltaDiscoveryResponse;
  const ended = new Promise<StatusObject>((resolve) => call.on("status", resolve));
  const responses = responseQueue<DecodedDeltaResponse>("delta xDS");
  call.on(
    "data",
    (raw: {
      system_version_info: string;
      nonce: string;
      type_url: string;
      removed_resources: string[];
      resources: { name: string; version: string; resource: { type_url: string; value: Buffer } }[];
    }) => {
      const decoded: DecodedDeltaResponse = {
        system_version_info: raw.system_version_info,
        nonce: raw.nonce,
        type_url: raw.type_url,
        names: raw.resources.map((r) => r.name),
        versions: Object.fromEntries(raw.resources.map((r) => [r.name, r.version])),
        resources: raw.resources.map(({ resource }) => decodeAny(resource)),
        removed: raw.removed_resources,
        bytes: responseType.encode(responseType.fromObject(raw)).finish().byteLength,
      };
      responses.push(decoded);
    },
  );
  return {
    ended,
    send: (request) => call.write(request),
    ack: (response) => call.write({ type_url: response.type_url, response_nonce: response.nonce }),
    next: responses.next,
    quietFor: responses.quietFor,
    close,
  };
}
