// Reads a response body as Server-Sent Events with relay's one SSE parser. The relative import is
// bundled into dist by the package build, so the published package has no path outside itself.
import { type SseEvent, SseParser } from "../../common/sse";

/**
 * Yields the body's events as they arrive. Aborting `signal`, or leaving the loop early, cancels
 * the body, which closes the connection.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  // A custom fetch may not tie the body to the signal; cancelling the reader ends it either way.
  const onAbort = () => {
    reader.cancel(signal.reason).catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let ended = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      // A cancelled reader reports `done`; that is an abort, not the end of the stream.
      if (signal.aborted) throw signal.reason;
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    ended = true;
    yield* parser.push(decoder.decode());
    yield* parser.flush();
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!ended) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
