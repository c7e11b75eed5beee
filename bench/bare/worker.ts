import { Hono } from "hono";

// The floor for any Worker-based gateway: forward the request to the upstream, stream the answer
// back. No auth, no parsing, no bookkeeping.
type Env = { UPSTREAM: string };

const app = new Hono<{ Bindings: Env }>();
app.post("/v1/*", (c) =>
  fetch(c.env.UPSTREAM + c.req.path.slice(3), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: c.req.raw.body,
  }),
);

export default app;
