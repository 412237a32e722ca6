import pino, { stdSerializers, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogFormat } from "../config/config.ts";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** `pretty`: one readable, coloured line per event (pino-pretty); `json` (default): JSON lines. */
  format?: LogFormat;
  /** Where JSON lines go instead of stdout (tests use an in-memory sink). */
  destination?: DestinationStream;
}

/** The root logger, on stdout unless given a destination. */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const settings = {
    level,
    base: { app: "consul-xds-bridge" },
    serializers: { err: serializeError },
  };
  if (options.format !== "pretty") return pino(settings, options.destination);
  // Synchronous, like pino's own stdout destination: the last lines before an exit are kept.
  const stream = pretty({
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,app",
    singleLine: true,
  });
  return pino(settings, stream);
}

type SerializedError = ReturnType<typeof stdSerializers.err>;

/**
 * pino's error serializer without repetition. The message names each cause once (pino appends
 * every cause's message even when the wrapper already quotes it); a failure of the system (an
 * error with a `code` such as ECONNREFUSED while Consul is down, here or in a cause) carries no
 * stack; any other keeps its frames without the `Name: message` header already in `message`.
 */
export function serializeError(error: Error): SerializedError {
  const serialized: SerializedError = { ...stdSerializers.err(error), message: ownMessages(error) };
  const chain = causes(error);
  if (chain.some((link) => typeof (link as NodeJS.ErrnoException).code === "string")) {
    delete (serialized as { stack?: string }).stack;
    return serialized;
  }
  const lines = (serialized.stack ?? "").split("\n");
  const first = lines.findIndex((line) => /^\s+at /.test(line));
  if (first === -1) delete (serialized as { stack?: string }).stack;
  else serialized.stack = lines.slice(first).join("\n");
  return serialized;
}

/** The error and its causes, outermost first (bounded, in case of a cycle). */
function causes(error: Error): Error[] {
  const chain: Error[] = [];
  for (let link: unknown = error; link instanceof Error && chain.length < 8; link = link.cause) {
    chain.push(link);
  }
  return chain;
}

function ownMessages(error: Error): string {
  let message = "";
  for (const link of causes(error)) {
    if (!message.includes(link.message))
      message = message ? `${message}: ${link.message}` : link.message;
  }
  return message;
}
