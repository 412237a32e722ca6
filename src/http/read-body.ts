import type { IncomingMessage } from "node:http";

/** The client hung up before its request body arrived: nobody is left to answer. */
export class ClientGoneError extends Error {
  override readonly name = "ClientGoneError";
  constructor(cause: unknown) {
    super("the client went away before its request body arrived", { cause });
  }
}

/** A request body, or the fact that it was larger than allowed. */
export type BodyResult = { tooLarge: false; text: string } | { tooLarge: true };

/**
 * Reads a request body of at most `limitBytes` as UTF-8. A larger body is not buffered: the rest
 * is discarded so the caller can still answer 413 on the same connection. Rejects with
 * {@link ClientGoneError} when the client hangs up mid-request.
 */
export function readBody(request: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) {
    request.resume();
    return Promise.resolve({ tooLarge: true });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      request.off("data", onData);
      request.off("end", onEnd);
      request.resume();
      resolve({ tooLarge: true });
    };
    const onEnd = (): void =>
      resolve({ tooLarge: false, text: Buffer.concat(chunks).toString("utf8") });
    request.on("data", onData);
    request.on("end", onEnd);
    request.once("error", (error) => reject(new ClientGoneError(error)));
  });
}
