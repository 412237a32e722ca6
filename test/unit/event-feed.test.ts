import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { test } from "node:test";
import { EventFeed } from "../../src/observe/event-feed.ts";
import { waitFor } from "../support/wait-for.ts";

/** A fake `/events` client that records what the feed writes. */
function client(feed: EventFeed): string[] {
  const written: string[] = [];
  const response = Object.assign(new EventEmitter(), {
    writeHead: () => response,
    write: (text: string) => written.push(text),
    end: () => undefined,
  });
  const request = Object.assign(new EventEmitter(), { url: "/events", method: "GET" });
  feed.handler(request as unknown as IncomingMessage, response as unknown as ServerResponse);
  return written;
}

test("a burst of state changes reaches clients as one event at once and one after the burst", async () => {
  const feed = new EventFeed();
  try {
    const written = client(feed);
    const states = () => written.filter((text) => text.startsWith("event: state")).length;
    for (let i = 0; i < 1_000; i++) feed.touch();
    assert.equal(states(), 1, "the first touch is sent at once");
    await waitFor(() => states() === 2, { timeoutMs: 5_000, description: "trailing state event" });
    feed.publish("stream", "stream opened");
    assert.equal(written.filter((text) => text.startsWith("event: change")).length, 1);
  } finally {
    feed.close();
  }
});
