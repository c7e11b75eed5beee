// The one Server-Sent Events parser of relay, used by the Worker and the sidecar.
// It works on decoded text chunks as they arrive and hands back complete events, each with its
// own raw text so that a pass-through can forward an event without re-serialising it.

export interface SseEvent {
  /** The `event:` field, when present. */
  event?: string;
  /** The `id:` field, when present: a client resumes after it with `Last-Event-ID`. */
  id?: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The event as text, ending in a blank line (line endings normalised to \n). */
  raw: string;
}

export class SseParser {
  private buffer = "";
  private heldCr = false;

  /** Feeds a chunk of text; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.heldCr) {
      text = `\r${text}`;
      this.heldCr = false;
    }
    // A chunk may end between \r and \n; hold the \r so the pair is not read as two line breaks.
    if (text.endsWith("\r")) {
      this.heldCr = true;
      text = text.slice(0, -1);
    }
    this.buffer += text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
    const events: SseEvent[] = [];
    let boundary = this.buffer.indexOf("\n\n");
    while (boundary !== -1) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      const event = parseBlock(block);
      if (event) events.push(event);
      boundary = this.buffer.indexOf("\n\n");
    }
    return events;
  }

  /** The last event of a stream that ended without a blank line. */
  flush(): SseEvent[] {
    const rest = this.buffer;
    this.buffer = "";
    if (!rest.trim()) return [];
    const event = parseBlock(rest.replace(/\n+$/, ""));
    return event ? [event] : [];
  }
}

function parseBlock(block: string): SseEvent | null {
  let event: string | undefined;
  let id: string | undefined;
  let data: string | null = null;
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue; // comments and heartbeats
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data = data === null ? value : `${data}\n${value}`;
    else if (field === "event") event = value;
    // The spec ignores an id containing NUL, since it could not be sent back in a header.
    else if (field === "id" && !value.includes("\0")) id = value;
  }
  if (data === null) return null;
  return { event, id, data, raw: `${block}\n\n` };
}

/** One event as text. */
export function formatSse(data: string, event?: string): string {
  return event ? `event: ${event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}
