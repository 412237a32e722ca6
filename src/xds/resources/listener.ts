import {
  ADS_CONFIG_SOURCE,
  stringStruct,
  type AdsConfigSource,
  type StringStruct,
  type Wrapped,
} from "./proto-values.ts";
import type { GatewayOptions, ResourceType } from "./resource-type.ts";
import {
  ROUTE_CONFIGURATION_TYPE_URL,
  toVirtualHost,
  UNKNOWN_HOST_HINT,
  UNKNOWN_HOST_ROUTE,
  type RouteConfigurationObject,
  type RoutedService,
} from "./route-configuration.ts";

/** LDS: the type URL of Listener. */
export const LISTENER_TYPE_URL = "type.googleapis.com/envoy.config.listener.v3.Listener" as const;

/** Name of the gateway listener (docs/architecture.md §4). */
export const GATEWAY_LISTENER_NAME = "consul-gateway";

const HCM_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const STDOUT_ACCESS_LOG_TYPE_URL =
  "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
const ZIPKIN_TYPE_URL = "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig";
const CEL_FILTER_TYPE_URL =
  "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter";
/** Zipkin's span intake (its v2 HTTP API, JSON). */
export const ZIPKIN_COLLECTOR_ENDPOINT = "/api/v2/spans";

/** One JSON object per request on Envoy's stdout (Envoy substitution format operators). */
export const ACCESS_LOG_FORMAT: Readonly<Record<string, string>> = Object.freeze({
  start_time: "%START_TIME%",
  request_id: "%REQ(X-REQUEST-ID)%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  authority: "%REQ(:AUTHORITY)%",
  protocol: "%PROTOCOL%",
  status: "%RESPONSE_CODE%",
  response_flags: "%RESPONSE_FLAGS%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  duration_ms: "%DURATION%",
  upstream_host: "%UPSTREAM_HOST%",
  cluster: "%UPSTREAM_CLUSTER%",
});

/** An HttpConnectionManager as a plain `@type` object. */
export interface HttpConnectionManagerObject {
  "@type": typeof HCM_TYPE_URL;
  stat_prefix: string;
  rds?: { config_source: AdsConfigSource; route_config_name: string };
  route_config?: RouteConfigurationObject;
  http_filters: { name: string; typed_config: { "@type": string } }[];
  generate_request_id?: Wrapped<boolean>;
  tracing?: { provider: ZipkinProviderObject };
  access_log?: {
    name: string;
    typed_config: { "@type": string; log_format: { json_format: StringStruct } };
  }[];
  local_reply_config?: LocalReplyConfigObject;
}

/** How the connection manager rewrites the replies Envoy makes itself (LocalReplyConfig). */
export interface LocalReplyConfigObject {
  mappers: {
    filter: {
      extension_filter: {
        name: string;
        typed_config: { "@type": typeof CEL_FILTER_TYPE_URL; expression: string };
      };
    };
    body_format_override: { text_format_source: { inline_string: string } };
  }[];
}

/**
 * The unknown-Host 404 of the route configuration (route-configuration.ts) with the requested Host
 * in its body. A direct response's body is sent as written (Envoy substitutes no `%REQ(...)%`
 * there), but a local-reply mapper's body format is a substitution format; the mapper picks that
 * reply by its route's name (a CEL filter: Envoy 1.40 gives a direct response no response flag).
 */
const UNKNOWN_HOST_REPLY: LocalReplyConfigObject = {
  mappers: [
    {
      filter: {
        extension_filter: {
          name: "envoy.access_loggers.extension_filters.cel",
          typed_config: {
            "@type": CEL_FILTER_TYPE_URL,
            expression: `xds.route_name == '${UNKNOWN_HOST_ROUTE}'`,
          },
        },
      },
      body_format_override: {
        text_format_source: {
          inline_string: `no service "%REQ(:AUTHORITY)%" in Consul; ${UNKNOWN_HOST_HINT}\n`,
        },
      },
    },
  ],
};

/** The Zipkin tracer of a connection manager (envoy.config.trace.v3.Tracing.Http). */
export interface ZipkinProviderObject {
  name: "envoy.tracers.zipkin";
  typed_config: {
    "@type": typeof ZIPKIN_TYPE_URL;
    collector_cluster: string;
    collector_endpoint: string;
    collector_endpoint_version: "HTTP_JSON";
    trace_id_128bit: boolean;
  };
}

/** An envoy.config.listener.v3.Listener as a plain object. */
export interface ListenerObject {
  name: string;
  address?: { socket_address: { address: string; port_value: number } };
  filter_chains?: {
    filters: { name: string; typed_config: HttpConnectionManagerObject }[];
  }[];
  api_listener?: { api_listener: HttpConnectionManagerObject };
}

/** The router, the only and last HTTP filter (gRPC rejects a chain not ending with it). */
const ROUTER_FILTER = Object.freeze({
  name: "envoy.filters.http.router",
  typed_config: Object.freeze({ "@type": ROUTER_TYPE_URL }),
});

/**
 * The gateway listener: HTTP on `host:port`, routes from the route configuration over ADS,
 * request ids generated (and passed to the backend), one JSON access-log line per request on
 * stdout, spans sent to a Zipkin collector when one is configured, and the unknown-Host 404 told
 * which Host it was asked for.
 */
export function toGatewayListener(options: GatewayOptions): ListenerObject {
  return {
    name: GATEWAY_LISTENER_NAME,
    address: { socket_address: { address: options.host, port_value: options.port } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM_TYPE_URL,
              stat_prefix: "consul_gateway",
              rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: options.routeConfigName },
              http_filters: [ROUTER_FILTER],
              generate_request_id: { value: true },
              ...(options.zipkinCluster === undefined
                ? {}
                : { tracing: { provider: zipkinProvider(options.zipkinCluster) } }),
              access_log: [
                {
                  name: "envoy.access_loggers.stdout",
                  typed_config: {
                    "@type": STDOUT_ACCESS_LOG_TYPE_URL,
                    log_format: { json_format: stringStruct(ACCESS_LOG_FORMAT) },
                  },
                },
              ],
              local_reply_config: UNKNOWN_HOST_REPLY,
            },
          },
        ],
      },
    ],
  };
}

/** Zipkin over HTTP JSON through `cluster` (Envoy refuses the default encoding, 0). */
function zipkinProvider(cluster: string): ZipkinProviderObject {
  return {
    name: "envoy.tracers.zipkin",
    typed_config: {
      "@type": ZIPKIN_TYPE_URL,
      collector_cluster: cluster,
      collector_endpoint: ZIPKIN_COLLECTOR_ENDPOINT,
      collector_endpoint_version: "HTTP_JSON",
      trace_id_128bit: true,
    },
  };
}

/**
 * The API listener a proxyless gRPC client asks for with target `xds:///NAME` (it requests the
 * Listener named as the target's path, `NAME` or `NAME:PORT`): an HTTP connection manager with
 * an inline route configuration whose one virtual host (any authority) routes to cluster NAME.
 */
export function toApiListener(listenerName: string, service: RoutedService): ListenerObject {
  return {
    name: listenerName,
    api_listener: {
      api_listener: {
        "@type": HCM_TYPE_URL,
        stat_prefix: listenerName,
        route_config: { name: listenerName, virtual_hosts: [toVirtualHost(service, ["*"])] },
        http_filters: [ROUTER_FILTER],
      },
    },
  };
}

/** `NAME`, `NAME:PORT`, `NAME.service.consul[:PORT]`: the service a listener name is for. */
const API_LISTENER_NAME = /^(.+?)(?:\.service\.consul)?(?::\d{1,5})?$/;

/** The service an API listener name is for (docs/architecture.md §4, proxyless gRPC). */
export function serviceOfListener(listenerName: string): string {
  return API_LISTENER_NAME.exec(listenerName)?.[1] ?? listenerName;
}

/**
 * LDS: the gateway listener when a gateway port is configured (the only listener a wildcard
 * gets), and the API listener of any service a proxyless gRPC client names. Responses carry the
 * full set. Listeners go before the route configuration they use; a changed listener shares the
 * route configuration Envoy holds by name, so it is not sent again (docs/architecture.md §4).
 */
export const listenerType: ResourceType<typeof LISTENER_TYPE_URL> = {
  typeUrl: LISTENER_TYPE_URL,
  grpc: {
    label: "lds",
    service: "envoy.service.listener.v3.ListenerDiscoveryService",
    sotw: "StreamListeners",
    delta: "DeltaListeners",
  },
  protoFiles: [
    "envoy/service/listener/v3/lds.proto",
    "envoy/config/listener/v3/listener.proto",
    "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
    "envoy/extensions/filters/http/router/v3/router.proto",
    "envoy/extensions/access_loggers/stream/v3/stream.proto",
    "envoy/config/trace/v3/zipkin.proto",
    "envoy/extensions/access_loggers/filters/cel/v3/cel.proto",
  ],
  fullSet: true,
  dependents: [{ typeUrl: ROUTE_CONFIGURATION_TYPE_URL, resend: false }],
  names: (source) => (source.gateway ? [GATEWAY_LISTENER_NAME] : []),
  // The gateway listener only names the route configuration: the same in every view.
  scope: (name) => (name === GATEWAY_LISTENER_NAME ? "all" : { service: serviceOfListener(name) }),
  build(source, name) {
    const { gateway, routeConfigName } = source;
    if (name === GATEWAY_LISTENER_NAME) {
      return gateway && { value: toGatewayListener({ ...gateway, routeConfigName }), exists: true };
    }
    const service = source.exported.get(serviceOfListener(name));
    return service && { value: toApiListener(name, service), exists: true };
  },
  changed(change, _source, subscribed) {
    if (change.routing.length === 0) return [];
    // API listeners go by the names clients asked for (`NAME:PORT` too): only those are told.
    const services = new Set(change.routing);
    const names: string[] = [];
    for (const name of subscribed()) {
      if (name !== GATEWAY_LISTENER_NAME && services.has(serviceOfListener(name))) names.push(name);
    }
    return names;
  },
};
