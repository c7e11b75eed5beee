import { Hono } from "hono";

// The floor for any Worker-based gateway: forward the request to the upstream, stream the answer
// back. No auth, no parsing, no bookkeeping.
//   /v1/*     the body is returned as the runtime's own stream (native pipe end to end)
//   /js/v1/*  the same, through an identity TransformStream with a JavaScript transform: the floor
//             for any gateway that must look at a stream (usage, translation) as it passes
type Env = { UPSTREAM: string };

const forward = (upstream: string, path: string, body: ReadableStream | null) =>
  fetch(upstream + path, { method: "POST", headers: { "content-type": "application/json" }, body });

const app = new Hono<{ Bindings: Env }>();
app.post("/v1/*", (c) => forward(c.env.UPSTREAM, c.req.path.slice(3), c.req.raw.body));
app.post("/js/v1/*", async (c) => {
  const res = await forward(c.env.UPSTREAM, c.req.path.slice(6), c.req.raw.body);
  const identity = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      controller.enqueue(chunk);
    },
  });
  return new Response(res.body?.pipeThrough(identity), res);
});

export default app;
