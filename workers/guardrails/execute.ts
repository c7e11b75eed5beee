import { RelayError } from "../../common/errors";
import type { Config } from "../config/env";
import type { RequestDb } from "../db/client";
import { record } from "../outbox/outbox";
import type { Json } from "../translate/types";
import { guardrailCatalog } from "./catalog";
import { callHttpGuardrail, GuardrailCallError } from "./http";
import { type PiiFormat, PiiSession, type PiiStreamAdapter, piiConfigSchema } from "./pii";
import { guardrailErrors } from "./plan";
import type { Action, AppliedGuardrail, ExecutionResult, Mode } from "./types";

// Runs one request's plan: pre_call on the request body, post_call on a whole answer, during_call on
// a stream. Each run of each guardrail is one execution record (counts and categories, never what it
// saw), written through the outbox after the response. The failure policy decides what a failing
// guardrail means: fail_closed stops the request (502 guardrail_unavailable), fail_open lets it go on
// and records a warning, dry_run records what it would have done and changes nothing.

export interface GuardrailContext {
  config: Config;
  db: RequestDb;
  requestId: string;
  tenantId: string;
  keyId: string | null;
  runId: string | null;
  route: string;
  model: string;
  waitUntil(task: Promise<unknown>): void;
}

const PII = "pii-redact";

/** Replaces an object's members by another's, in place (an http guardrail's `modify`). */
function replaceContents(target: Json, source: Json): void {
  for (const key of Object.keys(target)) delete target[key];
  Object.assign(target, source);
}

export class GuardrailRun {
  private pii: PiiSession | null = null;
  private readonly results: ExecutionResult[] = [];

  constructor(
    private readonly ctx: GuardrailContext,
    readonly plan: AppliedGuardrail[],
    readonly format: PiiFormat,
  ) {}

  get active(): boolean {
    return this.plan.length > 0;
  }

  private session(g: AppliedGuardrail): PiiSession {
    if (!this.pii) {
      const parsed = piiConfigSchema.safeParse(g.config);
      if (!parsed.success)
        throw new GuardrailCallError(`its config is invalid: ${parsed.error.issues[0]?.message}`);
      this.pii = new PiiSession(parsed.data);
    }
    return this.pii;
  }

  private note(
    g: AppliedGuardrail,
    mode: Mode,
    action: Action,
    started: number,
    reason: string | null,
    metadata: Json = {},
  ) {
    this.results.push({
      guardrail: g.def.name,
      mode,
      action,
      failurePolicy: g.def.failurePolicy,
      latencyMs: Date.now() - started,
      reason,
      metadata,
    });
  }

  /** A guardrail that could not run: its failure policy decides. */
  private failed(g: AppliedGuardrail, mode: Mode, started: number, err: unknown): void {
    const reason = err instanceof GuardrailCallError ? err.message : "it failed";
    this.note(g, mode, "warn", started, `could not run: ${reason}`, { failed: true });
    if (g.def.failurePolicy === "fail_closed") {
      throw guardrailErrors.unavailable(`The guardrail '${g.def.name}' could not run: ${reason}`);
    }
  }

  private piiMetadata(): Json {
    const report = this.pii?.report();
    return report ? { counts: report, categories: report.categories } : {};
  }

  private async http(g: AppliedGuardrail, mode: "pre_call" | "post_call", body: Json): Promise<boolean> {
    const started = Date.now();
    let verdict: Awaited<ReturnType<typeof callHttpGuardrail>>;
    try {
      const token = await guardrailCatalog.token(this.ctx.db, this.ctx.config, g.def.name);
      verdict = await callHttpGuardrail(g.def, token, {
        requestId: this.ctx.requestId,
        mode,
        context: {
          tenant_id: this.ctx.tenantId,
          key_id: this.ctx.keyId,
          run_id: this.ctx.runId,
          route: this.ctx.route,
          model: this.ctx.model,
        },
        config: g.config,
        body,
      });
    } catch (err) {
      this.failed(g, mode, started, err);
      return false;
    }
    const dry = g.def.failurePolicy === "dry_run";
    this.note(g, mode, verdict.action, started, verdict.reason, verdict.metadata);
    if (verdict.action === "block" && !dry) throw guardrailErrors.blocked(g.def.name, verdict.reason);
    if (verdict.action === "modify" && !dry) {
      replaceContents(body, (mode === "pre_call" ? verdict.request : verdict.response) as Json);
      return true;
    }
    return false;
  }

  /** pre_call: every guardrail with that mode, in plan order, on the request body (in place). */
  async pre(body: Json): Promise<boolean> {
    let changed = false;
    for (const g of this.plan) {
      if (!g.def.modes.includes("pre_call")) continue;
      if (g.def.kind === "http") {
        if (await this.http(g, "pre_call", body)) changed = true;
        continue;
      }
      const started = Date.now();
      try {
        if (g.def.name !== PII) throw new GuardrailCallError(`relay has no builtin named '${g.def.name}'`);
        const target = g.def.failurePolicy === "dry_run" ? structuredClone(body) : body;
        const modified = this.session(g).redactRequest(this.format, target);
        this.note(g, "pre_call", modified ? "modify" : "allow", started, null, this.piiMetadata());
        if (modified && target === body) changed = true;
      } catch (err) {
        if (err instanceof RelayError) throw err;
        this.failed(g, "pre_call", started, err);
      }
    }
    return changed;
  }

  /** post_call: on a whole answer in the client's format (in place). */
  async post(body: Json): Promise<boolean> {
    let changed = false;
    for (const g of this.plan) {
      if (!g.def.modes.includes("post_call")) continue;
      if (g.def.kind === "http") {
        if (await this.http(g, "post_call", body)) changed = true;
        continue;
      }
      const started = Date.now();
      try {
        const restore = g.config.restore_output !== false;
        const target = g.def.failurePolicy === "dry_run" ? structuredClone(body) : body;
        const modified = this.session(g).processResponse(this.format, target, { restore });
        this.note(g, "post_call", modified ? "modify" : "allow", started, null, this.piiMetadata());
        if (modified && target === body) changed = true;
      } catch (err) {
        if (err instanceof RelayError) throw err;
        this.failed(g, "post_call", started, err);
      }
    }
    return changed;
  }

  /**
   * during_call: the adapter that rewrites a streamed answer event by event, or null when nothing
   * runs during the call. Only pii-redact does (the plan refused streams for any other guardrail
   * that checks answers). Built once: the gateway asks before the upstream call, so a guardrail
   * that cannot run fails the request (fail_closed) while nothing has been sent.
   */
  stream(): PiiStreamAdapter | null {
    if (this.adapter !== undefined) return this.adapter;
    this.adapter = null;
    const g = this.plan.find((p) => p.def.modes.includes("during_call") && p.def.kind === "builtin");
    if (!g || g.def.failurePolicy === "dry_run") {
      if (g) this.note(g, "during_call", "allow", Date.now(), "dry_run: the stream was not changed");
      return null;
    }
    const started = Date.now();
    try {
      this.adapter = this.session(g).streamAdapter(this.format, {
        restore: g.config.restore_output !== false,
      });
    } catch (err) {
      this.failed(g, "during_call", started, err);
      return null;
    }
    this.streamed = { g, started };
    return this.adapter;
  }
  private adapter: PiiStreamAdapter | null | undefined;
  private streamed: { g: AppliedGuardrail; started: number } | null = null;

  /** The answer is complete (or failed): the records go to the outbox. */
  finish(): void {
    if (this.streamed) {
      const report = this.pii?.report();
      const modified = report
        ? report.restored > 0 || Object.values(report.response).some((n) => n > 0)
        : false;
      this.note(
        this.streamed.g,
        "during_call",
        modified ? "modify" : "allow",
        this.streamed.started,
        null,
        this.piiMetadata(),
      );
      this.streamed = null;
    }
    const now = new Date().toISOString();
    for (const r of this.results.splice(0)) {
      this.ctx.waitUntil(
        record(this.ctx.config, {
          kind: "guardrail_execution",
          id: crypto.randomUUID(),
          requestId: this.ctx.requestId,
          tenantId: this.ctx.tenantId,
          keyId: this.ctx.keyId,
          runId: this.ctx.runId,
          guardrail: r.guardrail,
          mode: r.mode,
          action: r.action,
          failurePolicy: r.failurePolicy,
          latencyMs: r.latencyMs,
          reason: r.reason,
          metadata: r.metadata,
          createdAt: now,
        }),
      );
    }
  }

  /** What ran so far (for POST /v1/guardrails/test). */
  executions(): ExecutionResult[] {
    return [...this.results];
  }
}
