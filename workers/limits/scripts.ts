// The Lua scripts behind every limit (see keys.ts for the layout). Each runs atomically in Redis,
// so two isolates, processes or regions can never both take the last unit. Time is Redis's own
// (TIME), so the windows are exact whatever the Workers' clocks say. Weights live in the member
// after its last "|" (tokens, µUSD); a log's running sum is member "~", stored negated. Replies are
// integers only, which the REST client passes through without decoding.

const HELPERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local W = 60000
local function weight(member) return tonumber(string.match(member, '([^|]*)$')) or 0 end
local function total(key)
  local s = redis.call('ZSCORE', key, '~')
  if not s or tonumber(s) >= 0 then return 0 end
  return -tonumber(s)
end
local function expire(key, upto)
  local old = redis.call('ZRANGEBYSCORE', key, 1, upto)
  if #old == 0 then return end
  local freed = 0
  for i = 1, #old do freed = freed + weight(old[i]) end
  redis.call('ZREMRANGEBYSCORE', key, 1, upto)
  redis.call('ZINCRBY', key, freed, '~')
end
`;

/**
 * Settlement of one admitted request, from the six arguments at ARGV[b..b+5]: id, tokens
 * reserved, tokens used, µUSD reserved (the text admission got), µUSD spent, whether a lease was
 * taken ('1'|'0').
 *
 * Tokens: the reservation is replaced by what was used, where it was admitted if that is still in
 * the window; past it, only usage above the reservation is added, now. The lease (a concurrency
 * slot, the reserved cost) is released. The cost is charged to the spend counters that exist; a
 * missing one is rebuilt from Postgres, where this request's usage event lands, so it is counted
 * there instead of twice.
 */
const SETTLE_ONE = `
local function settle(tok, fly, day, month, b)
  local id = ARGV[b]
  local r, a = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  if r > 0 or a > 0 then
    local m = id .. '|' .. ARGV[b + 1]
    local score = redis.call('ZSCORE', tok, m)
    if score then
      redis.call('ZREM', tok, m)
      if a > 0 then redis.call('ZADD', tok, score, id .. '|' .. ARGV[b + 2]) end
      redis.call('ZINCRBY', tok, r - a, '~')
    elseif a > r then
      redis.call('ZADD', tok, now, id .. '|+|' .. (a - r))
      redis.call('ZINCRBY', tok, r - a, '~')
    end
    redis.call('PEXPIRE', tok, W)
  end
  if ARGV[b + 5] == '1' and redis.call('ZREM', fly, id .. '|' .. ARGV[b + 3]) == 1 then
    redis.call('ZINCRBY', fly, tonumber(ARGV[b + 3]), '~')
  end
  if tonumber(ARGV[b + 4]) > 0 then
    for _, k in ipairs({day, month}) do
      if redis.call('EXISTS', k) == 1 then redis.call('INCRBYFLOAT', k, ARGV[b + 4]) end
    end
  end
end
`;

/** The arguments one settlement takes (see SETTLE_ONE). */
export const SETTLE_ARGS = 6;

/** Admission's reply codes (the first element). */
export const ADMITTED = 0;
export const REBUILD = 1;
export const OVER_BUDGET = 2;
export const OVER_CONCURRENCY = 3;
export const OVER_RPM = 4;
export const OVER_TPM = 5;

/**
 * Admission. KEYS: requests, tokens, in-flight, day spend, month spend.
 * ARGV: id, rpm, tpm, maxConcurrent, day budget µUSD, month budget µUSD (0 = no limit, budgets
 * -1), tokens to reserve, µUSD to reserve (as text, it is part of a member), lease ms, day TTL s,
 * month TTL s, rebuilt day spend, rebuilt month spend ('' = none), then the number of earlier
 * requests of this key to settle first and their SETTLE_ARGS each.
 *
 * Checks everything, then either refuses with nothing taken or takes every unit at once:
 *   {ADMITTED, requests left, ms until one frees, tokens left, ms until some free, day µUSD left, month µUSD left}
 *   {OVER_BUDGET, 1 day | 2 month, µUSD spent, µUSD reserved, µUSD limit}
 *   {OVER_CONCURRENCY, limit}
 *   {OVER_RPM, ms until a request frees}
 *   {OVER_TPM, ms until enough tokens free, tokens used}
 *   {REBUILD, day missing (0|1), month missing (0|1)}   spend counters lost: read Postgres, call again
 * A "left" of -1 means that limit is off.
 */
export const ADMIT = `${HELPERS}${SETTLE_ONE}
for i = 0, (tonumber(ARGV[14]) or 0) - 1 do settle(KEYS[2], KEYS[3], KEYS[4], KEYS[5], 15 + ${SETTLE_ARGS} * i) end

local id = ARGV[1]
local rpm, tpm, conc = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local dayB, monB = tonumber(ARGV[5]), tonumber(ARGV[6])
local tokens, cost, lease = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

local spent = {0, 0}
local missing = {0, 0}
for i, b in ipairs({dayB, monB}) do
  if b >= 0 then
    local key, rebuilt, ttl = KEYS[3 + i], ARGV[11 + i], ARGV[9 + i]
    local v = redis.call('GET', key)
    if not v and rebuilt ~= '' then
      redis.call('SET', key, rebuilt, 'EX', ttl)
      v = rebuilt
    end
    if v then spent[i] = tonumber(v) else missing[i] = 1 end
  end
end
if missing[1] + missing[2] > 0 then return {${REBUILD}, missing[1], missing[2]} end

local leased = conc > 0 or dayB >= 0 or monB >= 0
local inflight, reserved = 0, 0
if leased then
  expire(KEYS[3], now)
  inflight = redis.call('ZCOUNT', KEYS[3], 1, '+inf')
  reserved = total(KEYS[3])
end
for i, b in ipairs({dayB, monB}) do
  if b >= 0 and (spent[i] + reserved >= b or spent[i] + reserved + cost > b) then
    return {${OVER_BUDGET}, i, spent[i], reserved, b}
  end
end
if conc > 0 and inflight >= conc then return {${OVER_CONCURRENCY}, conc} end

local count = 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - W)
  count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local frees = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
    return {${OVER_RPM}, tonumber(frees[2]) + W - now}
  end
end

local used = 0
if tpm > 0 then
  expire(KEYS[2], now - W)
  used = total(KEYS[2])
  if used + tokens > tpm then
    local entries = redis.call('ZRANGEBYSCORE', KEYS[2], 1, '+inf', 'WITHSCORES')
    local need, freed, at = used + tokens - tpm, 0, now + W
    for i = 1, #entries, 2 do
      freed = freed + weight(entries[i])
      if freed >= need then at = tonumber(entries[i + 1]) + W break end
    end
    return {${OVER_TPM}, at - now, used}
  end
end

local out = {${ADMITTED}, -1, 0, -1, 0, -1, -1}
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('PEXPIRE', KEYS[1], W)
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  out[2] = rpm - count - 1
  out[3] = tonumber(oldest[2]) + W - now
end
if tpm > 0 then
  if tokens > 0 then
    redis.call('ZADD', KEYS[2], now, id .. '|' .. ARGV[7])
    redis.call('ZINCRBY', KEYS[2], -tokens, '~')
  end
  redis.call('PEXPIRE', KEYS[2], W)
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], 1, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  out[4] = tpm - used - tokens
  out[5] = oldest[2] and (tonumber(oldest[2]) + W - now) or 0
end
if leased then
  redis.call('ZADD', KEYS[3], now + lease, id .. '|' .. ARGV[8])
  redis.call('ZINCRBY', KEYS[3], -cost, '~')
  redis.call('PEXPIRE', KEYS[3], lease + W)
  if dayB >= 0 then out[6] = dayB - spent[1] - reserved - cost end
  if monB >= 0 then out[7] = monB - spent[2] - reserved - cost end
end
return out
`;

/**
 * Settlement of requests of one key whose admission carried nobody to settle them (no request of
 * that key came soon after). KEYS: tokens, in-flight, day spend, month spend. ARGV: SETTLE_ARGS
 * per request.
 */
export const SETTLE = `${HELPERS}${SETTLE_ONE}
for b = 1, #ARGV, ${SETTLE_ARGS} do settle(KEYS[1], KEYS[2], KEYS[3], KEYS[4], b) end
return 1
`;

/**
 * Failed authentications of one client address over a sliding window. KEYS: the address's log.
 * ARGV: id, max, window ms. Returns {recorded (0|1), ms until the address may try again (0: now)}:
 * at the limit the failure is not even recorded, so a flood does not extend its own block.
 */
export const AUTH_FAILURE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, window = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local recorded = 0
if n < max then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window)
  n = n + 1
  recorded = 1
end
if n < max then return {recorded, 0} end
local frees = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')
return {recorded, tonumber(frees[2]) + window - now}
`;
