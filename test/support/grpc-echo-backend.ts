import { Server, ServerCredentials } from "@grpc/grpc-js";
import { RAW_ECHO } from "./grpc-xds-call.ts";

/** A gRPC backend of the raw Echo method, answering with its own name and counting calls. */
export interface GrpcEchoBackend {
  readonly name: string;
  readonly port: number;
  /** Calls it has answered so far. */
  calls(): number;
  stop(): void;
}

/** Starts a gRPC Echo server on a free loopback port that answers every call with `name`. */
export async function startGrpcEchoBackend(name: string): Promise<GrpcEchoBackend> {
  const server = new Server();
  let calls = 0;
  server.addService(RAW_ECHO, {
    Echo: (_call: unknown, reply: (error: null, value: Buffer) => void) => {
      calls += 1;
      reply(null, Buffer.from(name));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { name, port, calls: () => calls, stop: () => server.forceShutdown() };
}
