import { Hono } from "hono";

// The floor for any Worker-based gateway: forward the request to the upstream, stream the answer
// back. No auth, no parsing, no bookkeeping. Paths are the mock upstream's own, so the same Worker
// forwards either format (/openai/v1/chat/completions, /anthropic/v1/messages):
//   /<path>     the body is returned as the runtime's own stream (native pipe end to end)
//   /js/<path>  the same, through an identity TransformStream with a JavaScript transform: the floor
//               for any gateway that must look at a stream (usage, translation) as it passes
type Env = { UPSTREAM: string };

const forward = (url: string, body: ReadableStream | null) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });

const app = new Hono<{ Bindings: Env }>();
app.post("/js/*", async (c) => {
  const res = await forward(c.env.UPSTREAM + c.req.path.slice(3), c.req.raw.body);
  const identity = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      controller.enqueue(chunk);
    },
  });
  return new Response(res.body?.pipeThrough(identity), res);
});
app.post("/*", (c) => forward(c.env.UPSTREAM + c.req.path, c.req.raw.body));

export default app;
