/**
 * Runs as its own process (`node --import tsx test/support/grpc-xds-call.ts XDS_PORT TARGET`):
 * makes one unary call through a `@grpc/grpc-js-xds` channel (`xds:///NAME`) bootstrapped on the
 * bridge's xDS port, prints the answer as one JSON line and exits; with `repeat`, keeps calling
 * on that one channel, one JSON line per call, until stopped. Its own process, because the xDS
 * client library keeps process-wide state that outlives its channels.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials, makeGenericClientConstructor, type ServiceDefinition } from "@grpc/grpc-js";
import { startProcess } from "./child-process.ts";

/** A unary method on raw bytes: enough to prove a call goes through; the backend echoes a text. */
export const RAW_ECHO: ServiceDefinition = {
  Echo: {
    path: "/bridge.test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

/** What one call gave: the answer's text, or the error. */
export type XdsCallResult = { ok: true; answer: string } | { ok: false; error: string };

/** Makes one call through `target` in a child process; resolves with its result. */
export function callThroughXds(
  xdsPort: number,
  target: string,
  timeoutMs = 20_000,
): Promise<XdsCallResult> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", script, String(xdsPort), target, String(timeoutMs)],
      { timeout: timeoutMs + 10_000 },
      (error, stdout, stderr) => {
        const line = stdout.trim().split("\n").at(-1) ?? "";
        try {
          resolve(JSON.parse(line) as XdsCallResult);
        } catch {
          resolve({ ok: false, error: `${error?.message ?? "no result"}\n${stderr}` });
        }
      },
    );
  });
}

/** A long-lived xDS client process calling one target over and over on one channel. */
export interface XdsCaller {
  /** Every result so far, in order. */
  results(): XdsCallResult[];
  /** Everything the process printed (for diagnostics). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts a process that calls `target` every `intervalMs` (a 5 s deadline each) until stopped. */
export function startXdsCaller(xdsPort: number, target: string, intervalMs = 50): XdsCaller {
  const script = fileURLToPath(import.meta.url);
  const child = startProcess(process.execPath, [
    "--import",
    "tsx",
    script,
    String(xdsPort),
    target,
    "5000",
    "repeat",
    String(intervalMs),
  ]);
  return {
    results: () =>
      child
        .output()
        .split("\n")
        .filter((line) => line.startsWith('{"ok":'))
        .map((line) => JSON.parse(line) as XdsCallResult),
    output: () => child.output(),
    stop: () => child.stop(),
  };
}

async function main(
  xdsPort: string,
  target: string,
  timeoutMs: string,
  intervalMs?: string,
): Promise<void> {
  const { register } = await import("@grpc/grpc-js-xds");
  register();
  const bootstrap = {
    xds_servers: [
      {
        server_uri: `127.0.0.1:${xdsPort}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: `grpc-xds-call-${process.pid}`, locality: {} },
  };
  const Client = makeGenericClientConstructor(RAW_ECHO, "Echo");
  const client = new Client(target, credentials.createInsecure(), {
    "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": JSON.stringify(bootstrap),
  }) as unknown as {
    Echo(
      request: Buffer,
      options: { deadline: number },
      callback: (error: Error | null, value?: Buffer) => void,
    ): void;
  };
  const call = (): Promise<XdsCallResult> =>
    new Promise((resolve) =>
      client.Echo(Buffer.from("hi"), { deadline: Date.now() + Number(timeoutMs) }, (error, value) =>
        resolve(error ? { ok: false, error: error.message } : { ok: true, answer: String(value) }),
      ),
    );
  if (intervalMs !== undefined) {
    for (;;) {
      process.stdout.write(`${JSON.stringify(await call())}\n`);
      await sleep(Number(intervalMs));
    }
  }
  const result = await call();
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [xdsPort = "", target = "", timeoutMs = "15000", mode, intervalMs] = process.argv.slice(2);
  void main(xdsPort, target, timeoutMs, mode === "repeat" ? (intervalMs ?? "50") : undefined);
}
