import { createServer, type Server } from "node:http";

/** An HTTP backend on a free loopback port that answers every request with its name. */
export async function nameServer(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_request, response) => response.end(name));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}
