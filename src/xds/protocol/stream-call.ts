import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { logStreamError, type StreamError } from "./stream-errors.ts";

/** What a stream class does when its call has news. */
export interface StreamCallHandlers<Request> {
  onRequest(request: Request): void;
  /** The response in flight was handed to the transport: the next one may be written. */
  onWritable(): void;
  /** Once, however the call ended. */
  onClosed(): void;
}

/**
 * The gRPC side every xDS stream shares (state of the world and delta): requests in, at most
 * one response in flight, and one close however the call ends. grpc-js queues up to 16
 * messages before `write()` reports a full transport, and queued versions could not be
 * replaced by newer ones; with one in flight a slow client gets only the newest
 * (docs/architecture.md §5).
 */
export class StreamCall<Request, Response> {
  private inFlight = false;
  private ended = false;

  constructor(
    private readonly call: ServerDuplexStream<Request, Response>,
    private readonly logger: Logger,
    private readonly nodeId: () => string,
    private readonly handlers: StreamCallHandlers<Request>,
  ) {
    call.on("data", (request: Request) => handlers.onRequest(request));
    call.on("end", () => this.close(true));
    call.on("error", (error: StreamError) => {
      logStreamError(logger, nodeId(), error);
      this.close(false);
    });
    call.on("cancelled", () => this.close(false));
  }

  /** Whether a response may be written now (open, and nothing in flight). */
  get writable(): boolean {
    return !this.ended && !this.inFlight;
  }

  /** Writes one response; `onWritable` follows once the transport took it. */
  write(response: Response): void {
    this.inFlight = true;
    this.call.write(response, () => {
      this.inFlight = false;
      this.handlers.onWritable();
    });
  }

  /** Ends the call; `graceful` ends it with status OK, so the client keeps what it holds. */
  close(graceful: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (graceful) this.call.end();
    this.handlers.onClosed();
    this.logger.debug({ node: this.nodeId() }, "stream closed");
  }
}
