import { cloudAuthEnvNames, type Env, loadConfig, WORKER_SETTINGS } from "../../workers/config/env";

/**
 * The Worker's bindings under `npm run dev`: every setting the Worker's config schema knows, as
 * the environment or `.dev.vars` gives it, plus the variables RELAY_CLOUD_MODELS names in auth_env,
 * then what `npm run dev` computed itself (the database, the sidecar, Redis). Validated with the
 * Worker's own loader, so a bad value stops `npm run dev` with the message the Worker would give.
 */
export function workerBindings(
  env: Record<string, string | undefined>,
  computed: Record<string, string>,
): Record<string, string> {
  const bindings: Record<string, string> = {};
  for (const name of WORKER_SETTINGS) {
    const value = env[name];
    if (value !== undefined && value !== "") bindings[name] = value;
  }
  Object.assign(bindings, computed);
  const config = loadConfig(bindings as Env);
  for (const name of cloudAuthEnvNames(config)) {
    const value = env[name];
    if (value) bindings[name] = value;
  }
  return bindings;
}

/**
 * The bindings as the env file `wrangler dev --env-file` reads (dotenv): each value in a quote it
 * does not contain, since dotenv unescapes nothing but \n inside double quotes (JSON would break).
 */
export function envFileText(bindings: Record<string, string>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(bindings)) {
    if (/[\r\n]/.test(value)) {
      if (value.includes('"')) throw new Error(`${name}: a value with line breaks cannot also contain '"'`);
      lines.push(`${name}="${value.replace(/\r?\n/g, "\\n")}"`);
    } else if (!value.includes("'")) lines.push(`${name}='${value}'`);
    else if (!value.includes("`")) lines.push(`${name}=\`${value}\``);
    else if (!value.includes('"')) lines.push(`${name}="${value}"`);
    else throw new Error(`${name}: the value contains ', " and \` at once, which no env file can carry`);
  }
  return `${lines.join("\n")}\n`;
}
