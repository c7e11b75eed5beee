import { SseParser } from "../../common/sse";
import { OpenAIPassthrough, type StreamTranslator } from "../translate/streams";
import type { TokenUsage } from "../translate/types";

/** Turns upstream stream bytes into the client's stream bytes, and keeps the usage it sees. */
export interface StreamPump {
  push(chunk: Uint8Array): Uint8Array;
  /** The upstream ended; whatever must still be sent. */
  end(): Uint8Array;
  /** A failure after the first byte, as an event in the client's format. */
  error(message: string, type: string): Uint8Array;
  usage(): TokenUsage | null;
}

const encoder = new TextEncoder();

/** Decodes, parses and translates event by event (format translation, Anthropic pass-through). */
export class TextPump implements StreamPump {
  private readonly parser = new SseParser();
  private readonly decoder = new TextDecoder();

  constructor(private readonly translator: StreamTranslator) {}

  push(chunk: Uint8Array): Uint8Array {
    let out = "";
    for (const ev of this.parser.push(this.decoder.decode(chunk, { stream: true })))
      out += this.translator.event(ev);
    return encoder.encode(out);
  }

  end(): Uint8Array {
    let out = "";
    for (const ev of this.parser.push(this.decoder.decode())) out += this.translator.event(ev);
    for (const ev of this.parser.flush()) out += this.translator.event(ev);
    return encoder.encode(out + this.translator.end());
  }

  error(message: string, type: string): Uint8Array {
    return encoder.encode(this.translator.error(message, type));
  }

  usage(): TokenUsage | null {
    return this.translator.usage();
  }
}

const NL = 10;
const G = 0x67;
const USAGE = new TextEncoder().encode('"usage"');

/** Whether `"usage"` occurs in the bytes; anchored on the rare `g` rather than the frequent quote. */
export function mentionsUsage(bytes: Uint8Array): boolean {
  for (let i = bytes.indexOf(G, 4); i !== -1; i = bytes.indexOf(G, i + 1)) {
    if (i + 2 >= bytes.length) return false;
    let match = true;
    for (let k = 0; k < USAGE.length; k++) {
      if (bytes[i - 4 + k] !== USAGE[k]) {
        match = false;
        break;
      }
    }
    if (match) return true;
  }
  return false;
}

/** Index just past the last "\\n\\n" (an event boundary), or 0. */
function lastBoundary(bytes: Uint8Array): number {
  for (let i = bytes.lastIndexOf(NL); i > 0; i = bytes.lastIndexOf(NL, i - 1)) {
    if (bytes[i - 1] === NL) return i + 1;
  }
  return 0;
}

/**
 * A pass-through on bytes (OpenAI chat, Anthropic Messages). Upstream chunks are cut at their last
 * event boundary so that events are never split across what is forwarded; a stretch of whole events
 * that does not mention `"usage"` goes to the client as the very bytes that came in. Only a stretch
 * with usage in it is decoded and parsed by the translator, to record the usage and, for the OpenAI
 * usage chunk relay asked for, remove it.
 *
 * Where the client's stream flows natively beside relay (proxy.ts), the same class is the observer:
 * what push returns is then dropped, and a chunk that completes no event costs one scan for "\n\n".
 */
export class BytePassthrough implements StreamPump {
  private held: Uint8Array | null = null;
  private readonly decoder = new TextDecoder();

  constructor(private readonly text: StreamTranslator) {}

  /** Bytes to forward for one upstream chunk (possibly empty). */
  push(chunk: Uint8Array): Uint8Array {
    let data = chunk;
    if (this.held) {
      data = new Uint8Array(this.held.length + chunk.length);
      data.set(this.held);
      data.set(chunk, this.held.length);
    }
    const cut = lastBoundary(data);
    this.held = cut < data.length ? data.slice(cut) : null;
    return this.forward(data.subarray(0, cut));
  }

  /** The rest, when the upstream ends. */
  end(): Uint8Array {
    const rest = this.held ?? new Uint8Array(0);
    this.held = null;
    return this.forward(rest, true);
  }

  private forward(events: Uint8Array, last = false): Uint8Array {
    if (events.length === 0) return events;
    // Streams in CRLF or with usage in this stretch take the parsing path.
    if (!last && !mentionsUsage(events) && events.indexOf(13) === -1) return events;
    const parser = new SseParser();
    let out = "";
    for (const ev of parser.push(this.decoder.decode(events))) out += this.text.event(ev);
    for (const ev of parser.flush()) out += this.text.event(ev);
    return encoder.encode(out);
  }

  error(message: string, type: string): Uint8Array {
    return encoder.encode(this.text.error(message, type));
  }

  usage(): TokenUsage | null {
    return this.text.usage();
  }
}

/** The OpenAI chat pass-through: removes the usage chunk relay asked for when the client did not. */
export class OpenAIBytePassthrough extends BytePassthrough {
  constructor(dropUsageChunk: boolean) {
    super(new OpenAIPassthrough(dropUsageChunk));
  }
}
