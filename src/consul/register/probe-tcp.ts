import { connect } from "node:net";

/**
 * Whether `host:port` accepts a TCP connection within `timeoutMs`. The shim probes a new endpoint
 * once so its registration starts passing when it is up: Consul runs the first TCP check only
 * after a random stagger of up to one interval, and the endpoint would sit unhealthy until then.
 */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reachable: boolean): void => {
      socket.destroy();
      resolve(reachable);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
