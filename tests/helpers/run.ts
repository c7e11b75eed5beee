import { spawn } from "node:child_process";
import { ROOT } from "./stack";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Settings a developer's shell or .dev.vars might hold; each test states the ones it wants.
const NEUTRAL: Record<string, string> = {
  DATABASE_URL: "",
  RELAY_MASTER_KEY: "",
  RELAY_MASTER_KEY_PREVIOUS: "",
  ANTHROPIC_API_KEY: "",
  OPENAI_API_KEY: "",
  OPENAI_BASE_URL: "",
  RELAY_TENANT_NAME: "",
};

/** Runs an npm script as a user would (`npm run -s NAME -- args`), with a bounded time. */
export function runScript(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", name, "--", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...NEUTRAL, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`npm run ${name} timed out\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      // npm's own config warnings are not the script's output.
      resolve({ code, stdout, stderr: stderr.replace(/^npm warn .*\n/gm, "") });
    });
  });
}
