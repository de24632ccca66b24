/**
 * The Lua script behind RedisRateLimiter.takeAll: checks every bucket and daily quota and
 * consumes from all of them only if all allow, atomically (Redis runs a script alone).
 * It mirrors MemoryRateLimiter.takeAll; the shared conformance suite keeps them equal.
 *
 * KEYS: for each check i, KEYS[2i-1] = bucket hash `<prefix>:rl:<key>` (fields t = tokens,
 *       ts = ms of t) and KEYS[2i] = daily counter base `<prefix>:q:<key>`; the script
 *       appends `:<yyyymmdd>` of the current UTC day, which only the server knows.
 * ARGV: cost, now (epoch ms, or '' to use the server's TIME — the test override), then per
 *       check: rate (tokens/s), burst, daily (0 = no quota).
 * Returns {allowed 0|1, retryAfterMs, remaining, reason 0|1 rate|2 daily, denied index 0-based or -1}.
 *
 * Using the server's clock means several gateways with skewed clocks judge one bucket by
 * one time. Idle buckets expire once full (plus IDLE_GRACE_MS); a missing bucket is full.
 * Daily counters expire an hour after their day ends.
 */

/** Kept after a bucket refills, so tests that step a clock faster than real time keep state. */
export const IDLE_GRACE_MS = 60_000;

export const TAKE_SCRIPT = `
local function ymd(days)
  -- civil_from_days (H. Hinnant), days since 1970-01-01
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d%02d%02d', y, m, d)
end

local cost = tonumber(ARGV[1])
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local DAY = 86400000
local EPS = 1e-9 -- floating-point tolerance, as in memory.ts
local today = math.floor(now / DAY)
local untilMidnight = math.ceil((today + 1) * DAY - now)
local stamp = ymd(today)
local n = #KEYS / 2

local tokens, at, used, waits, reasons, qkeys = {}, {}, {}, {}, {}, {}
local denied, worst = -1, -1
for i = 1, n do
  local rate = tonumber(ARGV[3 * i])
  local burst = tonumber(ARGV[3 * i + 1])
  local daily = tonumber(ARGV[3 * i + 2])
  local h = redis.call('HMGET', KEYS[2 * i - 1], 't', 'ts')
  local tk, ts = burst, now
  if h[1] then
    local last = tonumber(h[2])
    tk = math.min(burst, tonumber(h[1]) + math.max(0, now - last) * rate / 1000)
    if last > now then ts = last end
  end
  tokens[i], at[i] = tk, ts
  local wait, reason = 0, 0
  if tk + EPS < cost then
    wait = math.ceil((cost - tk) * 1000 / rate - EPS)
    reason = 1
  end
  used[i] = 0
  if daily > 0 then
    qkeys[i] = KEYS[2 * i] .. ':' .. stamp
    used[i] = tonumber(redis.call('GET', qkeys[i]) or 0)
    if used[i] + cost > daily then
      if untilMidnight > wait then wait = untilMidnight end
      reason = 2
    end
  end
  waits[i], reasons[i] = wait, reason
  if reason > 0 and wait > worst then
    denied, worst = i, wait
  end
end

local allowed = denied < 0
local spend = 0
if allowed then spend = cost end
local remaining = nil
for i = 1, n do
  local burst = tonumber(ARGV[3 * i + 1])
  local daily = tonumber(ARGV[3 * i + 2])
  local r = math.floor(tokens[i] - spend + EPS)
  if daily > 0 and daily - used[i] - spend < r then r = daily - used[i] - spend end
  if remaining == nil or r < remaining then remaining = r end
  if allowed then
    local rate = tonumber(ARGV[3 * i])
    local left = tokens[i] - cost
    redis.call('HSET', KEYS[2 * i - 1], 't', left, 'ts', at[i])
    redis.call('PEXPIRE', KEYS[2 * i - 1], math.ceil((burst - left) * 1000 / rate) + ${IDLE_GRACE_MS})
    if daily > 0 then
      redis.call('INCRBY', qkeys[i], cost)
      redis.call('PEXPIRE', qkeys[i], untilMidnight + 3600000)
    end
  end
end
if remaining < 0 then remaining = 0 end

if allowed then return {1, 0, remaining, 0, -1} end
return {0, waits[denied], remaining, reasons[denied], denied - 1}
`;
