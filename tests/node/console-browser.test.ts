import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import OpenAI from "openai";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SseParser } from "../../common/sse";
import { connectUrl } from "../../scripts/lib/database";
import { groupAlive } from "../../scripts/lib/processes";
import { guardrailExecutions } from "../../workers/db/schema";
import { type DevStack, exampleDevVars, leftovers, startDev } from "../helpers/dev-stack";
import { runScript } from "../helpers/run";
import { ROOT } from "../helpers/stack";
import { startMockUpstream } from "../mocks/upstream";

// The web console in a real browser (Debian's Chromium through playwright-core) against the stack
// as a user starts it (`npm run dev`, its own state folder and .dev.vars) with a mock upstream: sign
// in, credentials, a key used by the OpenAI SDK, that request in the overview, an agent run watched
// live, the operator's tenants, guardrail catalog and local models. Any console error, page error, failed or unexpected 4xx/5xx request
// fails the test. Every page is photographed at desktop and phone width into SHOTS, and the
// overview's weight and time to interactive are measured and written there too.

const CHROMIUM = "/usr/bin/chromium";
// Without the background-networking flags Chromium stalls on a closed network.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SHOTS = resolve(ROOT, process.env.RELAY_CONSOLE_SCREENSHOTS || "test-results/console");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };

interface Allowed {
  url: RegExp;
  status: number;
}

/** Everything that goes wrong on a page, except the failures a step expects. */
function watch(page: Page, problems: string[], allowed: Allowed[]): void {
  const isAllowed = (url: string, status: number) =>
    allowed.some((a) => a.status === status && a.url.test(url));
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const status = Number(/status of (\d{3})/.exec(msg.text())?.[1]);
    if (status && isAllowed(msg.location().url, status)) return;
    problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on("requestfailed", (req) =>
    problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`),
  );
  page.on("response", (res) => {
    if (res.status() >= 400 && !isAllowed(res.url(), res.status()))
      problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  page.on("dialog", (dialog) => void dialog.accept());
}

/** Waits until the page in view has loaded what it shows. */
async function settle(page: Page): Promise<void> {
  await page.waitForSelector('nav[aria-label="Console"]');
  // While a page's code loads, the page before it stays in view, marked busy.
  await page.waitForSelector("main:not([aria-busy])");
  await page.waitForSelector("main h1");
  await page.waitForFunction(() => !/Loading/.test(document.querySelector("main")?.textContent ?? ""));
}

async function go(page: Page, title: string): Promise<void> {
  await page.locator('nav[aria-label="Console"]').getByRole("link", { name: title, exact: true }).click();
  await page.waitForFunction((t) => document.title.startsWith(t), title);
  await settle(page);
}

/** Desktop and phone screenshots of the page in view; at 375 px nothing may scroll sideways. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  // Charts follow a resize on the next frames (ResizeObserver), as on a phone turned sideways.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const { width, culprits } = await page.evaluate((limit) => {
    // What sticks out, innermost first, to say what to fix.
    const out = [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > limit + 0.5 && el.children.length === 0)
      .slice(0, 5)
      .map(
        (el) =>
          `${el.tagName.toLowerCase()}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)`,
      );
    return { width: document.documentElement.scrollWidth, culprits: out };
  }, PHONE.width);
  expect(width, `${name} scrolls sideways at ${PHONE.width} px: ${culprits.join(", ")}`).toBeLessThanOrEqual(
    PHONE.width,
  );
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

describe("the web console in Chromium", () => {
  let stack: DevStack | undefined;
  let browser: Browser | undefined;
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let stateDir = "";
  let devVars = "";
  let apiKey = "";
  const problems: string[] = [];
  const allowed: Allowed[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`).toBe(
      true,
    );
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    mock = await startMockUpstream();
    stateDir = mkdtempSync(join(tmpdir(), "relay-console-"));
    devVars = join(stateDir, ".dev.vars");
    const fake = `FAKE_LOAD_MS=300 exec ${process.execPath} ${resolve(ROOT, "tests/fixtures/fake-llama-server.mjs")}`;
    writeFileSync(
      devVars,
      exampleDevVars([`RELAY_MODEL_MAP={"operator-tiny":{"cmd":"${fake}","ctx_size":4096}}`]),
    );
    [stack, browser] = await Promise.all([
      startDev({ stateDir, devVars }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS }),
    ]);
    const boot = await runScript("bootstrap", ["--json"], {
      RELAY_STATE_DIR: stateDir,
      RELAY_DEV_VARS: devVars,
    });
    expect(boot.code, boot.stderr).toBe(0);
    apiKey = JSON.parse(boot.stdout).apiKey;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (stack) {
      process.kill(-stack.pgid, "SIGINT");
      await Promise.race([stack.exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (groupAlive(stack.pgid)) process.kill(-stack.pgid, "SIGKILL");
      expect(await leftovers(stack)).toEqual([]);
    }
    await mock?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  beforeEach(() => {
    problems.length = 0;
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await (browser as Browser).newContext({ viewport: DESKTOP });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: (stack as DevStack).base,
    });
    const page = await context.newPage();
    watch(page, problems, allowed);
    return { context, page };
  }

  it("a tenant signs in, adds credentials, creates a key the OpenAI SDK uses, and sees the request", async () => {
    const base = (stack as DevStack).base;
    const { context, page } = await newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector("form input[name=secret]");
    await shoot(page, "sign-in");

    // Keyboard only: Tab reaches the key's field, Enter submits. A wrong key shows the API's message.
    allowed.push({ url: /\/console\/api\/session$/, status: 401 });
    for (
      let i = 0;
      i < 5 && (await page.evaluate(() => document.activeElement?.getAttribute("name"))) !== "secret";
      i++
    )
      await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("secret");
    await page.keyboard.type(`relay_live_${"A".repeat(43)}`);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain("Invalid API key");
    allowed.pop();
    await page.locator("input[name=secret]").fill(apiKey);
    await page.keyboard.press("Enter");
    await settle(page);
    expect(await page.locator("main h1").textContent()).toBe("Overview");
    await expect.poll(() => page.textContent("main")).toContain("No requests in the last 30 days");
    expect(
      await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })),
    ).toBe("{}{}");
    expect(await page.evaluate(() => document.cookie)).toBe(""); // HttpOnly: no script can read it
    await shoot(page, "overview-empty");

    // Credentials: the one the SDK will go through, and one added and deleted again.
    await go(page, "Credentials");
    await shoot(page, "credentials-empty");
    const form = page.locator("form");
    const saveCredential = async (name: string, key: string) => {
      await form.getByLabel("Name").fill(name);
      await form.getByLabel("Base URL").fill(`${mock.url}/openai/v1`);
      await form.getByLabel("API key").fill(key);
      await form.getByRole("button", { name: "Save credential" }).click();
      await expect.poll(() => page.locator('p[role="status"]').textContent()).toContain(`Added "${name}"`);
    };
    await saveCredential("openai", "sk-test-openai");
    await saveCredential("groq", "gsk-test");
    expect(await page.locator('p[role="status"]').textContent()).toContain("groq:<model>");
    expect(await page.locator("table").textContent()).toContain("stored, encrypted");
    expect(await page.textContent("main")).not.toContain("gsk-test");
    await page.getByRole("button", { name: "Delete groq" }).click();
    await expect.poll(() => page.locator('p[role="status"]').textContent()).toContain('Deleted "groq"');
    await expect.poll(() => page.locator("table").textContent()).not.toContain("groq");
    await shoot(page, "credentials");

    // Keys: the secret once, with a working copy button.
    await go(page, "Keys");
    await page.getByLabel("New key name").fill("sdk");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = (await page.locator('[data-testid="secret"]').textContent()) ?? "";
    expect(secret).toMatch(/^relay_live_[\w-]{43}$/);
    await page.locator(".secret").getByRole("button", { name: "Copy" }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await shoot(page, "keys-created");
    await page.getByRole("button", { name: "I have stored it" }).click();
    await expect.poll(() => page.locator("table").textContent()).toContain("sdk");
    expect(await page.textContent("main")).not.toContain(secret);
    await shoot(page, "keys");

    // The key's policy: a guardrail the catalog lacks is refused with the API's message, then an
    // allow-list and an expiry are saved. (Counted limits need Redis, which this stack runs without:
    // the next key shows them.)
    await page.getByRole("button", { name: "Edit policy of sdk" }).click();
    const policyForm = page.getByRole("form", { name: "Policy of sdk" });
    await policyForm.getByLabel("Mandatory").fill("no-such-guardrail");
    allowed.push({ url: /\/console\/api\/keys\/[0-9a-f-]{36}$/, status: 400 });
    await policyForm.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(() => policyForm.locator('[role="alert"]').textContent())
      .toContain("no guardrail named 'no-such-guardrail'");
    allowed.pop();
    await shoot(page, "keys-policy-refused");
    await policyForm.getByLabel("Mandatory").fill("");
    await policyForm.getByLabel("Allowed models").fill("gpt-4o-mini*");
    await policyForm.getByLabel("Expires").fill("2030-01-01T00:00");
    await policyForm.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(() => page.locator('p[role="status"]').textContent())
      .toContain('Saved the policy of "sdk"');
    const sdkRow = page.locator("table tbody tr", { hasText: "sdk" });
    await expect.poll(() => sdkRow.textContent()).toContain("models: gpt-4o-mini*");
    expect(await sdkRow.locator('[data-limit="expiresAt"] time').getAttribute("datetime")).toBe(
      new Date(await page.evaluate(() => new Date("2030-01-01T00:00").toISOString())).toISOString(),
    );

    // The new key with the official OpenAI SDK, through relay, to the mock.
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: secret, maxRetries: 0 });
    const chat = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hello console" }],
    });
    expect(chat.choices[0]?.message.content).toBe("Hello! You said: hello console");
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "streamed" }],
      stream: true,
    });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? "";
    expect(streamed).toContain("streamed");
    await expect(
      client.chat.completions.create({
        model: "gpt-4o-mini~400~x",
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toThrow(OpenAI.BadRequestError);

    // The overview counts them (usage is written after each response; look again until it is there).
    await expect
      .poll(
        async () => {
          await go(page, "Keys");
          await go(page, "Overview");
          return page.locator('[data-testid="Requests-Today"]').textContent();
        },
        { timeout: 20_000, interval: 300 },
      )
      .toBe("3");
    expect(await page.locator('[data-testid="Error rate-Today"]').textContent()).toMatch(/^33(\.3)?\s?%$/);
    await page.waitForFunction(() => document.querySelectorAll(".chart[data-drawn]").length === 3);
    expect(await page.textContent("main")).toContain("Slowest models");
    expect(await page.locator("table.table").first().textContent()).toContain("gpt-4o-mini");
    await shoot(page, "overview");

    // The key's allow-list holds on the gateway.
    await expect(
      client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toThrow(OpenAI.PermissionDeniedError);
    // A key with a rate limit and a budget: the keys page shows where it stands (spend from
    // Postgres; the rate's counter lives in Redis, which this stack has not, so it is unknown).
    const capped = await fetch(`${base}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "capped", policy: { rpm: 60, dailyBudgetUsd: 5 } }),
    });
    expect(capped.status).toBe(201);
    await go(page, "Keys");
    const cappedRow = page.locator("table tbody tr", { hasText: "capped" });
    expect(await cappedRow.locator('[data-testid="dailyBudget-value"]').textContent()).toBe("$0.00 / $5.00");
    expect(await cappedRow.locator('[data-testid="requestsPerMinute-value"]').textContent()).toBe("? / 60");
    expect(await cappedRow.textContent()).toContain("not counted");
    await shoot(page, "keys-limits");

    await go(page, "Models");
    await expect.poll(() => page.textContent("main")).toContain('credential "openai"');
    await shoot(page, "models");
    await go(page, "Rooms");
    expect(await page.textContent("main")).toContain("No rooms yet");
    await shoot(page, "rooms");
    await go(page, "Runs");
    expect(await page.textContent("main")).toContain("No runs yet");
    expect(await page.textContent("main")).toContain("@relay/sdk");
    await shoot(page, "runs-empty");
    await go(page, "Guardrails");
    expect(await page.textContent("main")).toContain("No guardrails for this key");
    await shoot(page, "guardrails");
    await go(page, "Audit log");
    for (const action of ["credential.deleted", "credential.created", "api_key.created", "console.signed_in"])
      expect(await page.textContent("main")).toContain(action);
    await shoot(page, "audit");

    // Sign-out ends the session on the server: the pages ask for a sign-in again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForSelector("form input[name=secret]");
    await page.goto(`${base}/console/keys`);
    await page.waitForSelector("form input[name=secret]");
    await context.close();
    expect(problems).toEqual([]);
  }, 120_000);

  it("a tenant watches an agent run live: its tool calls wait, then their results and the end arrive", async () => {
    const base = (stack as DevStack).base;
    const auth = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
    const put = await fetch(`${base}/v1/credentials/openai`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ apiKey: "sk-test-openai", baseUrl: `${mock.url}/openai/v1` }),
    });
    expect(put.ok).toBe(true);

    // The agent's side, as the SDK plays it: start the run, read its stream, answer its tool calls
    // (the mock model calls get_weather and get_time, then answers once it has both results).
    const prompt = "What is the weather in Paris, and the time there?";
    const started = await fetch(`${base}/v1/runs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        model: "gpt-4o-mini",
        input: prompt,
        system: "Answer in one sentence.",
        tools: [
          {
            kind: "function",
            name: "get_weather",
            description: "Current weather in a city",
            inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
          {
            kind: "function",
            name: "get_time",
            description: "Local time in an IANA time zone",
            inputSchema: { type: "object", properties: { timezone: { type: "string" } } },
          },
        ],
        metadata: { app: "console test" },
      }),
    });
    expect(started.status).toBe(200);
    const runId = started.headers.get("x-run-id") as string;
    const agentSaw: { type: string }[] = [];
    const reading = (async () => {
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = (started.body as ReadableStream<Uint8Array>).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        for (const ev of parser.push(decoder.decode(r.value, { stream: true })))
          agentSaw.push(JSON.parse(ev.data));
      }
    })();
    await expect.poll(() => agentSaw.filter((e) => e.type === "tool_call").length).toBe(2);
    // A second run in the same workflow, while the first waits.
    const child = await fetch(`${base}/v1/runs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: "gpt-4o-mini", input: "Summarise the forecast", parentRunId: runId }),
    });
    expect(child.status).toBe(200);
    expect(await child.text()).toContain('"type":"done"');

    const { context, page } = await newPage();
    const signIn = await context.request.post(`${base}/console/api/session`, { data: { apiKey } });
    expect(signIn.status()).toBe(201);
    await page.goto(`${base}/console/runs`);
    await settle(page);
    const parentRow = page.locator("tr", { has: page.getByRole("link", { name: prompt }) });
    expect(await parentRow.locator("[data-status]").textContent()).toBe("running");
    expect(await page.locator("table").textContent()).toContain("Summarise the forecast");
    await shoot(page, "runs");

    // The run page follows the run: both calls are in the timeline while the run waits for them.
    await page.getByRole("link", { name: prompt }).click();
    await page.waitForFunction(() => document.title.startsWith("Run ·"));
    await settle(page);
    const weather = page.locator('[data-tool-call="call_weather_1"]');
    const time = page.locator('[data-tool-call="call_time_2"]');
    await expect.poll(() => weather.textContent(), { timeout: 15_000 }).toContain("waiting for its result");
    expect(await weather.textContent()).toContain('"city": "Paris"');
    expect(await time.textContent()).toContain("waiting for its result");
    expect(await page.locator('[data-testid="live"]').textContent()).toBe("Live: waiting for 2 tool results");
    expect(await page.locator('[data-testid="run-status"]').textContent()).toBe("running");
    expect(await page.locator(".tree").textContent()).toContain("Summarise the forecast");
    await shoot(page, "run-live");

    const answer = (id: string, output: unknown) =>
      fetch(`${base}/v1/runs/${runId}/tool-results/${id}`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ output }),
      });
    expect((await answer("call_weather_1", { city: "Paris", sky: "sunny", celsius: 21 })).status).toBe(200);
    await expect
      .poll(() => page.locator('[data-tool-result="call_weather_1"]').count(), { timeout: 15_000 })
      .toBe(1);
    expect(await page.locator('[data-tool-result="call_weather_1"]').textContent()).toContain(
      '"sky": "sunny"',
    );
    expect(await weather.textContent()).not.toContain("waiting");
    expect(await time.textContent()).toContain("waiting for its result");
    expect(await page.locator('[data-testid="live"]').textContent()).toBe("Live: waiting for a tool result");
    expect((await answer("call_time_2", "14:05")).status).toBe(200);
    await expect.poll(() => page.locator('[data-kind="done"]').count(), { timeout: 15_000 }).toBe(1);
    await reading;
    expect(agentSaw.at(-1)?.type).toBe("done");
    // Once the stream ends the page reads the run again: its status, usage, cost and stored times.
    await expect
      .poll(() => page.locator('[data-testid="run-status"]').textContent(), { timeout: 15_000 })
      .toBe("completed");
    expect(await page.locator('[data-testid="live"]').textContent()).toBe("");
    expect(await page.locator('[data-tool-result="call_time_2"]').textContent()).toContain("14:05");
    expect(await page.locator(".timeline").textContent()).toContain("It is sunny in Paris.");
    expect(await page.locator('[data-testid="run-tokens"]').textContent()).not.toBe("0 / 0");
    expect(await page.locator('[data-testid="run-cost"]').textContent()).toMatch(/\$\s?\d/);
    for (const when of await page.locator(".timeline .when").allTextContents()) expect(when).toMatch(/^\+/);
    // The workflow is read again too: both runs ended, with their costs.
    await expect.poll(() => page.locator(".tree").textContent()).not.toContain("running");
    await shoot(page, "run");

    // The workflow leads to the child run, and the child back to its parent.
    await page.locator(".tree").getByRole("link", { name: "Summarise the forecast" }).click();
    await expect.poll(() => page.locator("main h1").textContent()).not.toContain(runId.slice(0, 8));
    await settle(page);
    expect(await page.locator('[data-testid="run-status"]').textContent()).toBe("completed");
    await page
      .locator(".figures")
      .getByRole("link", { name: runId.slice(0, 8) })
      .click();
    await expect.poll(() => page.locator("main h1").textContent()).toContain(runId.slice(0, 8));

    // Status filters.
    await go(page, "Runs");
    await page.getByLabel("Status").selectOption("running");
    await expect.poll(() => page.textContent("main")).toContain("No running runs");
    await page.getByLabel("Status").selectOption("completed");
    await expect.poll(() => page.locator("table tbody tr").count()).toBe(2);
    await page.getByLabel("Top-level runs only").check();
    await expect.poll(() => page.locator("table tbody tr").count()).toBe(1);
    await context.close();
    expect(problems).toEqual([]);
  }, 120_000);

  it("the operator signs in, creates a tenant, keeps the guardrail catalog and loads a local model", async () => {
    const base = (stack as DevStack).base;
    const adminToken = /^RELAY_ADMIN_TOKEN=(\S+)$/m.exec(readFileSync(devVars, "utf8"))?.[1] as string;
    const { context, page } = await newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("Operator").check();
    await page.locator("input[name=secret]").fill(adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await settle(page);
    expect(new URL(page.url()).pathname).toBe("/console/admin/tenants");
    expect(await page.locator("table").textContent()).toContain("default");
    await shoot(page, "admin-tenants");
    await page.getByLabel("Name", { exact: true }).fill("acme");
    await page.getByRole("button", { name: "Create tenant" }).click();
    const acmeKey = (await page.locator('[data-testid="secret"]').textContent()) ?? "";
    expect(acmeKey).toMatch(/^relay_live_/);
    await shoot(page, "admin-tenant-created");
    await page.getByRole("button", { name: "I have stored it" }).click();
    await expect.poll(() => page.locator("table").textContent()).toContain("acme");

    // The tenant's ceilings: the API's refusal shown as it is, then limits saved.
    await page.getByRole("button", { name: "Edit limits of acme" }).click();
    const limitsForm = page.getByRole("form", { name: "Limits of acme" });
    await limitsForm.getByLabel("Allowed models").fill("x".repeat(201));
    allowed.push({ url: /\/console\/api\/admin\/tenants\/[0-9a-f-]{36}$/, status: 400 });
    await limitsForm.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => limitsForm.locator('[role="alert"]').textContent()).toContain("allowedModels");
    allowed.pop();
    expect(await limitsForm.getByLabel("Mandatory").count()).toBe(0); // guardrails are a key's, not a ceiling
    await shoot(page, "admin-tenant-limits-refused");
    await limitsForm.getByLabel("Allowed models").fill("");
    await limitsForm.getByLabel("Requests per minute").fill("600");
    await limitsForm.getByLabel("Monthly budget (USD)").fill("200");
    await limitsForm.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(() => page.locator('p[role="status"]').textContent())
      .toContain('Saved the limits of "acme"');
    const acmeRow = page.locator("table tbody tr", { hasText: "acme" });
    await expect
      .poll(() => acmeRow.locator('[data-testid="tenant-limits"]').textContent())
      .toContain("600 requests/min");
    expect(await acmeRow.textContent()).toContain("$200.00/month");
    await shoot(page, "admin-tenant-limits");

    // The tenant sees its ceilings, and its key counted against them.
    const acmeView = await newPage();
    const acmeSignIn = await acmeView.context.request.post(`${base}/console/api/session`, {
      data: { apiKey: acmeKey },
    });
    expect(acmeSignIn.status()).toBe(201);
    await acmeView.page.goto(`${base}/console/keys`);
    await settle(acmeView.page);
    expect(await acmeView.page.locator('[data-testid="tenant-limits"]').textContent()).toContain(
      "600 requests/min",
    );
    expect(await acmeView.page.locator('[data-testid="requestsPerMinute-value"]').first().textContent()).toBe(
      "? / 600",
    );
    await shoot(acmeView.page, "keys-tenant-ceilings");
    await acmeView.context.close();

    // The guardrail catalog: an http guardrail created (the API's refusal shown first), changed,
    // disabled and deleted.
    await go(page, "Guardrails");
    expect(await page.locator('[data-guardrail="pii-redact"]').textContent()).toContain("built in");
    await shoot(page, "admin-guardrails");
    await page.getByRole("button", { name: "New http guardrail" }).click();
    const create = page.getByRole("form", { name: "New http guardrail" });
    await create.getByLabel("Name", { exact: true }).fill("toxicity");
    await create.getByLabel("Endpoint URL").fill(`${mock.url}/guardrail/allow`);
    await create.getByLabel("Bearer token").fill("guard-secret-token");
    await create.getByLabel("Config", { exact: true }).fill('{"threshold": 5}');
    await create
      .getByLabel("Config schema")
      .fill('{"type": "object", "properties": {"threshold": {"type": "number", "maximum": 1}}}');
    allowed.push({ url: /\/console\/api\/admin\/guardrails$/, status: 400 });
    await create.getByRole("button", { name: "Create guardrail" }).click();
    await expect.poll(() => create.locator('[role="alert"]').textContent()).toMatch(/^config: /);
    allowed.pop();
    await shoot(page, "admin-guardrail-refused");
    await create.getByLabel("Config", { exact: true }).fill('{"threshold": 0.5}');
    await create.getByLabel("On by default").check();
    await create.getByRole("button", { name: "Create guardrail" }).click();
    await expect.poll(() => page.locator('p[role="status"]').textContent()).toContain('Created "toxicity"');
    const guard = page.locator('[data-guardrail="toxicity"]');
    expect(await guard.textContent()).toContain("stored, encrypted");
    expect(await page.textContent("main")).not.toContain("guard-secret-token");

    // On by default, so every tenant's key now sees it (read-only) on its Guardrails page.
    const tenantView = await newPage();
    const tenantSignIn = await tenantView.context.request.post(`${base}/console/api/session`, {
      data: { apiKey },
    });
    expect(tenantSignIn.status()).toBe(201);
    await tenantView.page.goto(`${base}/console/guardrails`);
    await settle(tenantView.page);
    const offered = tenantView.page.locator("table tbody tr", { hasText: "toxicity" });
    expect(await offered.textContent()).toContain("always (on by default)");
    expect(await offered.textContent()).toContain("the request fails");
    await shoot(tenantView.page, "guardrails-offered");
    await tenantView.context.close();
    await guard.getByRole("button", { name: "Edit toxicity" }).click();
    const edit = page.getByRole("form", { name: "Edit toxicity" });
    await edit.getByLabel("If it fails").selectOption("fail_open");
    await edit.getByRole("button", { name: "Save changes" }).click();
    await expect.poll(() => page.locator('p[role="status"]').textContent()).toContain('Saved "toxicity"');
    await expect.poll(() => guard.textContent()).toContain("fail_open");
    await guard.getByRole("button", { name: "Disable toxicity" }).click();
    await expect.poll(() => guard.locator('[data-testid="enabled"]').textContent()).toBe("disabled");
    await shoot(page, "admin-guardrails-changed");
    await guard.getByRole("button", { name: "Delete toxicity" }).click();
    await expect.poll(() => page.locator('p[role="status"]').textContent()).toContain('Deleted "toxicity"');
    await expect.poll(() => page.locator('[data-guardrail="toxicity"]').count()).toBe(0);

    // Guardrails are not on the gateway's path yet (keys carry no guardrail policy), so nothing
    // records executions through the API: they are written here as the executor writes them.
    const tenants = (await (
      await fetch(`${base}/admin/tenants`, { headers: { authorization: `Bearer ${adminToken}` } })
    ).json()) as { tenants: { id: string; name: string }[] };
    const acme = tenants.tenants.find((t) => t.name === "acme")?.id as string;
    const db = await connectUrl(JSON.parse(readFileSync(join(stateDir, "dev.json"), "utf8")).databaseUrl);
    try {
      const now = Date.now();
      await db.db.insert(guardrailExecutions).values(
        [
          ["pii-redact", "pre_call", "modify", 3, null, { categories: ["email"] }],
          ["pii-redact", "post_call", "allow", 1, null, {}],
          ["toxicity", "pre_call", "block", 42, "over the threshold", { score: 0.93 }],
        ].map(([guardrail, mode, action, latencyMs, reason, metadata], i) => ({
          id: crypto.randomUUID(),
          requestId: `req_console_${i}`,
          tenantId: acme,
          guardrail: guardrail as string,
          mode: mode as string,
          action: action as string,
          failurePolicy: "fail_closed",
          latencyMs: latencyMs as number,
          reason: reason as string | null,
          metadata: metadata as Record<string, unknown>,
          createdAt: new Date(now - i * 60_000),
        })),
      );
    } finally {
      await db.close();
    }
    await go(page, "Guardrail activity");
    const summary = page.locator("table").first();
    expect(await summary.textContent()).toContain("pii-redact");
    expect(await summary.textContent()).toContain("toxicity");
    const runs = page.locator("table").nth(1);
    expect(await runs.locator("tbody tr").count()).toBe(3);
    await expect.poll(() => runs.textContent()).toContain("acme"); // tenant names load beside the list
    await page.getByLabel("Action").selectOption("block");
    await expect.poll(() => runs.locator("tbody tr").count()).toBe(1);
    expect(await runs.textContent()).toContain("over the threshold");
    await page.getByLabel("Action").selectOption("");
    await expect.poll(() => runs.locator("tbody tr").count()).toBe(3);
    await shoot(page, "admin-guardrail-activity");

    await go(page, "Local models");
    const card = page.locator('[data-model="operator-tiny"]');
    expect(await card.locator('[data-testid="state"]').textContent()).toBe("stopped");
    expect(await page.textContent("main")).toContain("Warm limit");
    await card.getByRole("button", { name: "Load operator-tiny" }).click();
    await expect
      .poll(() => card.locator('[data-testid="state"]').textContent(), { timeout: 20_000 })
      .toBe("ready");
    await card.getByRole("button", { name: "Show log" }).click();
    await expect.poll(() => card.locator(".logs pre").textContent()).toContain("fake-llama-server");
    await shoot(page, "admin-local-models");
    await card.getByRole("button", { name: "Unload operator-tiny" }).click();
    await expect
      .poll(() => card.locator('[data-testid="state"]').textContent(), { timeout: 20_000 })
      .toBe("stopped");

    await go(page, "Readiness");
    for (const check of ["postgres", "sidecar"])
      expect(await page.locator(`[data-check="${check}"] .status`).textContent()).toBe("ok");
    await shoot(page, "admin-readiness");
    await context.close();
    expect(problems).toEqual([]);
  }, 90_000);

  it("the overview is light and quick: page weight and time to interactive", async () => {
    const base = (stack as DevStack).base;
    // Traffic of its own, so that the overview draws its charts whatever ran before.
    const auth = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
    const put = await fetch(`${base}/v1/credentials/openai`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ apiKey: "sk-test-openai", baseUrl: `${mock.url}/openai/v1` }),
    });
    expect(put.ok).toBe(true);
    const chat = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "weigh me" }] }),
    });
    expect(chat.status).toBe(200);
    await chat.text();
    await expect
      .poll(async () => {
        const usage = await fetch(`${base}/v1/usage`, { headers: auth });
        return ((await usage.json()) as { totals: { requests: number } }).totals.requests;
      })
      .toBeGreaterThan(0);
    const results: Record<string, unknown> = {};
    for (const profile of ["desktop", "phone"] as const) {
      const { context, page } = await newPage();
      const signIn = await context.request.post(`${base}/console/api/session`, { data: { apiKey } });
      expect(signIn.status()).toBe(201);
      if (profile === "phone") {
        // Lighthouse's mobile profile: a 4x slower CPU, 150 ms round trips, 1.6 Mbit/s down.
        await page.setViewportSize(PHONE);
        const cdp = await context.newCDPSession(page);
        await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
        await cdp.send("Network.enable");
        await cdp.send("Network.emulateNetworkConditions", {
          offline: false,
          latency: 150,
          downloadThroughput: (1.6 * 1024 * 1024) / 8,
          uploadThroughput: (750 * 1024) / 8,
        });
      }
      await page.goto(`${base}/console`);
      // Interactive: the numbers are in and every chart is drawn (Preact attaches handlers as it renders).
      const tti = await page.waitForFunction(
        () =>
          document.querySelector("[data-ready]") &&
          document.querySelectorAll(".chart[data-drawn]").length === 3
            ? performance.now()
            : 0,
        undefined,
        { polling: "raf", timeout: 30_000 },
      );
      const timing = await page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        const files = (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
          .filter((r) => /\.(js|css)$/.test(new URL(r.name).pathname))
          .map((r) => ({ url: r.name, transfer: r.encodedBodySize }));
        // The data it waits for, to see where the time goes.
        const api = (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
          .filter((r) => r.initiatorType === "fetch")
          .map((r) => `${Math.round(r.startTime)}+${Math.round(r.duration)} ms ${new URL(r.name).pathname}`);
        return { html: nav.encodedBodySize, domInteractive: nav.domInteractive, files, api };
      });
      const bodies = await Promise.all(
        [`${base}/console`, ...timing.files.map((f) => f.url)].map(async (url) =>
          Buffer.from(await (await context.request.get(url)).body()),
        ),
      );
      results[profile] = {
        timeToInteractiveMs: Math.round((await tti.jsonValue()) as number),
        domInteractiveMs: Math.round(timing.domInteractive),
        dataRequests: timing.api,
        files: ["(html)", ...timing.files.map((f) => new URL(f.url).pathname)],
        servedBytes: timing.html + timing.files.reduce((n, f) => n + f.transfer, 0),
        rawBytes: bodies.reduce((n, b) => n + b.length, 0),
        gzipBytes: bodies.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0),
        brotliBytes: bodies.reduce((n, b) => n + brotliCompressSync(b).length, 0),
      };
      await context.close();
    }
    writeFileSync(join(SHOTS, "overview-weight.json"), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`overview weight and time to interactive: ${JSON.stringify(results)}`);
    const desktop = results.desktop as { brotliBytes: number };
    // A weight budget with room to spare (times are measured, never asserted); the numbers go to the README.
    expect(desktop.brotliBytes).toBeLessThan(120_000);
    expect(problems).toEqual([]);
  }, 90_000);
});
