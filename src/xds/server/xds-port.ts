import { ServerCredentials, type Server } from "@grpc/grpc-js";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import type { Logger } from "pino";

/** TLS of the xDS port: PEM contents, read from files by the composition root. */
export interface XdsTlsOptions {
  /** The server's certificate chain. */
  certificate: Buffer;
  privateKey: Buffer;
  /** When set, clients must present a certificate signed by one of these CAs (mutual TLS). */
  clientCa?: Buffer | undefined;
}

/** Options of {@link openXdsPort}. */
export interface XdsPortOptions {
  host: string;
  port: number;
  /** Plaintext when absent. */
  tls?: XdsTlsOptions | undefined;
  logger: Logger;
  /** Called once for every connection refused during the TLS handshake. */
  onRefused?: (peer: string) => void;
}

/** The listening xDS port. */
export interface XdsPort {
  /** The bound port (the kernel's choice when 0 was asked). */
  readonly port: number;
  /** "plaintext", "TLS" or "mutual TLS". */
  readonly security: string;
  /** Stops accepting connections; the gRPC server closes the sessions it holds. */
  close(): void;
}

/** A client that hangs up or resets before finishing the handshake is no attack, just gone. */
const GONE_CODES = new Set(["ECONNRESET", "EPIPE"]);
/** A client that opens a connection and says nothing is cut off after this long. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Binds `server` to `host:port`, in plaintext or with TLS. TLS (and mutual TLS) is terminated
 * here and each authenticated connection handed to the gRPC server, so that a refused handshake
 * is seen: logged once at warn with the peer address and reported to `onRefused` (grpc-js's own
 * TLS would drop it without a trace).
 */
export async function openXdsPort(server: Server, options: XdsPortOptions): Promise<XdsPort> {
  const { tls } = options;
  if (!tls) {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${options.host}:${options.port}`,
        ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
    return { port, security: "plaintext", close: () => undefined };
  }
  const { logger } = options;
  // The connections it receives are already TLS: gRPC runs HTTP/2 over them as they are.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const mutual = tls.clientCa !== undefined;
  const refuse = (socket: TLSSocket, code: string | undefined, error: string): void => {
    const peer = peerOf(socket);
    options.onRefused?.(peer);
    logger.warn(
      { peer, reason: "tls", code, error },
      "xDS connection refused: TLS handshake failed",
    );
  };
  const listener = createServer(
    {
      cert: tls.certificate,
      key: tls.privateKey,
      // The client certificate is checked below, where the refusal can be logged and counted;
      // with rejectUnauthorized Node would close the socket without any event.
      ...(mutual ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
      ALPNProtocols: ["h2"],
      minVersion: "TLSv1.2",
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    (socket) => {
      if (mutual && !socket.authorized) {
        // Without a certificate Node reports an issuer problem: name the real one.
        const presented = Object.keys(socket.getPeerCertificate()).length > 0;
        const code = presented ? String(socket.authorizationError) : "NO_CLIENT_CERTIFICATE";
        refuse(
          socket,
          code,
          presented ? `client certificate not accepted` : "no client certificate",
        );
        socket.destroy();
        return;
      }
      injector.injectConnection(socket);
    },
  );
  listener.on("tlsClientError", (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (GONE_CODES.has(error.code ?? "")) {
      logger.debug(
        { peer: peerOf(socket), code: error.code },
        "client went away during the TLS handshake",
      );
      return;
    }
    refuse(socket, error.code, error.message);
  });
  listener.listen(options.port, options.host.replace(/^\[|\]$/g, ""));
  await once(listener, "listening"); // rejects on "error" (port taken, bad address)
  return {
    port: (listener.address() as AddressInfo).port,
    security: mutual ? "mutual TLS" : "TLS",
    close: () => listener.close(),
  };
}

function peerOf(socket: TLSSocket): string {
  return `${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`;
}
