import type { Redis, Result } from "ioredis";

// The broker's state changes as Lua scripts, so each check-then-write is atomic in Redis: of two
// concurrent posts of one result, exactly one is stored. Every key of a run shares the run's hash
// tag ({runId}), so a script's keys always live in one slot.
//
// Keys (P = RELAY_BROKER_KEY_PREFIX):
//   P{run}:run          hash  tenant, status (running|completed|failed|canceled)
//   P{run}:calls        hash  toolUseId → "" while pending, else the result as JSON text
//   P{run}:wake:<call>  list  one wake token once the call has a result or the run has ended
// A waiter never pops the token: it blocks with BLMOVE from the list to itself, which hands the
// token on and wakes every waiter at once, so a waiter that dies mid-wake strands nobody.
// END builds the wake keys of a run's calls itself (they are not in KEYS); they share the run's
// hash tag, so they are in the slot of the keys it was given.

/** KEYS run, calls · ARGV tenant, ttlMs → {"ok", status} | {"run_not_found"} */
const REGISTER = `
local tenant = redis.call('HGET', KEYS[1], 'tenant')
if not tenant then
  redis.call('HSET', KEYS[1], 'tenant', ARGV[1], 'status', 'running')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'ok', 'running'}
end
if tenant ~= ARGV[1] then return {'run_not_found'} end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'running' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return {'ok', status}
`;

/** KEYS run, calls · ARGV tenant, ttlMs, toolUseId… → "ok" | error code */
const ADD_CALLS = `
local run = redis.call('HMGET', KEYS[1], 'tenant', 'status')
if run[1] ~= ARGV[1] then return 'run_not_found' end
if run[2] ~= 'running' then return 'run_not_waiting' end
for i = 3, #ARGV do redis.call('HSETNX', KEYS[2], ARGV[i], '') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 'ok'
`;

/** KEYS run, calls, wake · ARGV tenant, ttlMs, toolUseId, output → "ok" | error code */
const SUBMIT = `
local run = redis.call('HMGET', KEYS[1], 'tenant', 'status')
if run[1] ~= ARGV[1] then return 'run_not_found' end
local current = redis.call('HGET', KEYS[2], ARGV[3])
if not current then return 'tool_call_not_found' end
if current ~= '' then return 'tool_result_already_submitted' end
if run[2] ~= 'running' then return 'run_not_waiting' end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if redis.call('LLEN', KEYS[3]) == 0 then redis.call('LPUSH', KEYS[3], '1') end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 'ok'
`;

/**
 * KEYS run, calls · ARGV tenant, status, ttlMs, wake key prefix → {"ok", final status} | {"run_not_found"}
 * The first end's status stays. Every pending call gets a wake token, so its waiters see the end now.
 */
const END = `
local run = redis.call('HMGET', KEYS[1], 'tenant', 'status')
if run[1] ~= ARGV[1] then return {'run_not_found'} end
local status = run[2]
if status == 'running' then
  redis.call('HSET', KEYS[1], 'status', ARGV[2])
  status = ARGV[2]
end
for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
  local wake = ARGV[4] .. id
  if redis.call('HSTRLEN', KEYS[2], id) == 0 and redis.call('LLEN', wake) == 0 then
    redis.call('LPUSH', wake, '1')
  end
  redis.call('PEXPIRE', wake, ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {'ok', status}
`;

/** KEYS run, calls · ARGV tenant, toolUseId → {"result", output} | {"pending"} | {error code} */
const PEEK = `
local run = redis.call('HMGET', KEYS[1], 'tenant', 'status')
if run[1] ~= ARGV[1] then return {'run_not_found'} end
local value = redis.call('HGET', KEYS[2], ARGV[2])
if not value then return {'tool_call_not_found'} end
if value ~= '' then return {'result', value} end
if run[2] ~= 'running' then return {'run_not_waiting'} end
return {'pending'}
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    brokerRegister(run: string, calls: string, tenant: string, ttlMs: number): Result<string[], Context>;
    brokerAddCalls(
      run: string,
      calls: string,
      tenant: string,
      ttlMs: number,
      ...ids: string[]
    ): Result<string, Context>;
    brokerSubmit(
      ...args: [
        run: string,
        calls: string,
        wake: string,
        tenant: string,
        ttlMs: number,
        id: string,
        output: string,
      ]
    ): Result<string, Context>;
    brokerEnd(
      run: string,
      calls: string,
      tenant: string,
      status: string,
      ttlMs: number,
      wakePrefix: string,
    ): Result<string[], Context>;
    brokerPeek(run: string, calls: string, tenant: string, id: string): Result<string[], Context>;
  }
}

/** Loads the scripts as commands (ioredis sends EVALSHA and falls back to EVAL once per script). */
export function defineBrokerScripts(redis: Redis): void {
  const define = (name: string, numberOfKeys: number, lua: string) =>
    redis.defineCommand(name, { numberOfKeys, lua });
  define("brokerRegister", 2, REGISTER);
  define("brokerAddCalls", 2, ADD_CALLS);
  define("brokerSubmit", 3, SUBMIT);
  define("brokerEnd", 2, END);
  define("brokerPeek", 2, PEEK);
}
