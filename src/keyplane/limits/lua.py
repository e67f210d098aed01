"""Lua scripts of the Redis backend; see ``redis.py`` for the key layout.

Per demand the scripts read 7 keys and 11 arguments: requests, requests_per_minute,
tokens, tokens_per_minute, max_parallel, budget_limit, cost, window_remaining_ms,
window_ttl, requests_per_day, day_remaining_ms (``-1`` for "none"). Times are seconds as
floats; replies carry milliseconds.
"""

from __future__ import annotations

_PRELUDE = """
local W = 61
local now = tonumber(ARGV[1])
local slot = math.floor(now)
local n = #KEYS / 7

local function arg(header, i, k) return tonumber(ARGV[header + (i - 1) * 11 + k]) end

local function slots(key)
  local data = redis.call('HGETALL', key)
  local sum, live = 0, {}
  for j = 1, #data, 2 do
    local s, c = tonumber(data[j]), tonumber(data[j + 1])
    if s <= slot - W then redis.call('HDEL', key, data[j])
    else sum = sum + c; live[#live + 1] = {s, c} end
  end
  return sum, live
end

local function wait_ms(live, used, amount, limit)
  if used + amount <= limit then return -1 end
  if amount > limit then return W * 1000 end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  local excess, freed = used + amount - limit, 0
  for _, e in ipairs(live) do
    freed = freed + e[2]
    if freed >= excess then return math.max(math.floor((e[1] + W - now) * 1000), 0) end
  end
  return W * 1000
end

local function reset_ms(live)
  local m = nil
  for _, e in ipairs(live) do if e[2] > 0 and (m == nil or e[1] > m) then m = e[1] end end
  if m == nil then return 0 end
  return math.max(math.floor((m + W - now) * 1000), 0)
end

local function reclaim(bud, bres, bexp)
  local expired = redis.call('ZRANGEBYSCORE', bexp, '-inf', now)
  for _, lease in ipairs(expired) do
    local amount = tonumber(redis.call('HGET', bres, lease) or '0')
    redis.call('HINCRBY', bud, 'reserved', -amount)
    redis.call('HDEL', bres, lease)
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', bexp, '-inf', now) end
end

local function status(i, header)
  local k = (i - 1) * 7
  local out = {-1, 0, 0, -1, 0, 0, -1, 0, 0}
  local rpm, tpm, blimit = arg(header, i, 2), arg(header, i, 4), arg(header, i, 6)
  if rpm >= 0 then
    local used, live = slots(KEYS[k + 1])
    out[1], out[2], out[3] = rpm, math.max(rpm - used, 0), reset_ms(live)
  end
  if tpm >= 0 then
    local used, live = slots(KEYS[k + 2])
    out[4], out[5], out[6] = tpm, math.max(tpm - used, 0), reset_ms(live)
  end
  if blimit >= 0 then
    out[7] = blimit
    out[8] = tonumber(redis.call('HGET', KEYS[k + 4], 'spent') or '0')
    out[9] = tonumber(redis.call('HGET', KEYS[k + 4], 'reserved') or '0')
  end
  return out
end
"""

ACQUIRE = (
    _PRELUDE
    + """
local lease, lease_ttl = ARGV[2], tonumber(ARGV[3])
local H = 3
-- Check every demand first; change nothing unless all of them fit.
for i = 1, n do
  local k = (i - 1) * 7
  local requests, rpm = arg(H, i, 1), arg(H, i, 2)
  local tokens, tpm, par = arg(H, i, 3), arg(H, i, 4), arg(H, i, 5)
  local blimit, cost, wrem = arg(H, i, 6), arg(H, i, 7), arg(H, i, 8)
  local rpd = arg(H, i, 10)
  if rpd >= 0 then
    if redis.call('HEXISTS', KEYS[k + 7], 'spent') == 0 then return {-2, i - 1} end
    local today = tonumber(redis.call('HGET', KEYS[k + 7], 'spent'))
    if today + requests > rpd then return {5, i - 1, rpd, math.max(arg(H, i, 11), 0)} end
  end
  if rpm >= 0 then
    local used, live = slots(KEYS[k + 1])
    local w = wait_ms(live, used, requests, rpm)
    if w >= 0 then return {1, i - 1, rpm, w} end
  end
  if tpm >= 0 then
    local used, live = slots(KEYS[k + 2])
    local w = wait_ms(live, used, tokens, tpm)
    if w >= 0 then return {2, i - 1, tpm, w} end
  end
  if par >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 3]) >= par then return {3, i - 1, par, 1000} end
  end
  if blimit >= 0 then
    if redis.call('HEXISTS', KEYS[k + 4], 'spent') == 0 then return {-1, i - 1} end
    reclaim(KEYS[k + 4], KEYS[k + 5], KEYS[k + 6])
    local spent = tonumber(redis.call('HGET', KEYS[k + 4], 'spent') or '0')
    local reserved = tonumber(redis.call('HGET', KEYS[k + 4], 'reserved') or '0')
    local committed = spent + reserved
    if committed >= blimit or committed + cost > blimit then
      return {4, i - 1, blimit, math.max(wrem, 0)}
    end
  end
end
-- Apply them all.
for i = 1, n do
  local k = (i - 1) * 7
  local rpm, tpm, par = arg(H, i, 2), arg(H, i, 4), arg(H, i, 5)
  local blimit, wttl, rpd = arg(H, i, 6), arg(H, i, 9), arg(H, i, 10)
  if rpd >= 0 then
    -- The key names the UTC day, so a new day is seeded afresh; it lives a day past it.
    redis.call('HINCRBY', KEYS[k + 7], 'spent', arg(H, i, 1))
    redis.call('EXPIRE', KEYS[k + 7], math.floor(arg(H, i, 11) / 1000) + 86400)
  end
  if rpm >= 0 then
    redis.call('HINCRBY', KEYS[k + 1], slot, arg(H, i, 1))
    redis.call('EXPIRE', KEYS[k + 1], 2 * W)
  end
  if tpm >= 0 then
    redis.call('HINCRBY', KEYS[k + 2], slot, arg(H, i, 3))
    redis.call('EXPIRE', KEYS[k + 2], 2 * W)
  end
  if par >= 0 then
    redis.call('ZADD', KEYS[k + 3], now + lease_ttl, lease)
    redis.call('EXPIRE', KEYS[k + 3], lease_ttl + 60)
  end
  if blimit >= 0 then
    local cost = arg(H, i, 7)
    -- A zero reservation holds nothing, and verifications (cost 0) are never released.
    if cost > 0 then
      redis.call('HINCRBY', KEYS[k + 4], 'reserved', cost)
      redis.call('HSET', KEYS[k + 5], lease, cost)
      redis.call('ZADD', KEYS[k + 6], now + lease_ttl, lease)
    end
    if wttl > 0 then
      for j = 4, 6 do redis.call('EXPIRE', KEYS[k + j], wttl) end
    end
  end
end
local reply = {0}
for i = 1, n do
  for _, v in ipairs(status(i, H)) do reply[#reply + 1] = v end
end
return reply
"""
)

RELEASE = (
    _PRELUDE
    + """
local lease, admitted = ARGV[2], tonumber(ARGV[3])
local actual_tokens, cost = tonumber(ARGV[4]), tonumber(ARGV[5])
local admitted_slot = math.floor(admitted)
local H = 5
local reply = {}
for i = 1, n do
  local k = (i - 1) * 7
  local tpm, par, blimit = arg(H, i, 4), arg(H, i, 5), arg(H, i, 6)
  if par >= 0 then redis.call('ZREM', KEYS[k + 3], lease) end
  if tpm >= 0 then
    if admitted_slot > slot - W then
      redis.call('HINCRBY', KEYS[k + 2], admitted_slot, 0 - arg(H, i, 3))  -- never "-0"
    end
    redis.call('HINCRBY', KEYS[k + 2], slot, actual_tokens)
    redis.call('EXPIRE', KEYS[k + 2], 2 * W)
  end
  if blimit >= 0 then
    local held = redis.call('HGET', KEYS[k + 5], lease)
    if held then
      redis.call('HINCRBY', KEYS[k + 4], 'reserved', -tonumber(held))
      redis.call('HDEL', KEYS[k + 5], lease)
      redis.call('ZREM', KEYS[k + 6], lease)
    end
    -- Spend only into a seeded window: one made here (Redis lost its data while the call
    -- ran) would pass for seeded with nothing spent. The seed counts this call from the meter.
    if redis.call('HEXISTS', KEYS[k + 4], 'spent') == 1 then
      local before = tonumber(redis.call('HGET', KEYS[k + 4], 'spent'))
      local after = redis.call('HINCRBY', KEYS[k + 4], 'spent', cost)
      reply[#reply + 1] = before
      reply[#reply + 1] = after
    else
      reply[#reply + 1] = -1
      reply[#reply + 1] = -1
    end
  else
    reply[#reply + 1] = -1
    reply[#reply + 1] = -1
  end
end
return reply
"""
)

STATUS = (
    _PRELUDE
    + """
local reply = {}
for i = 1, n do
  for _, v in ipairs(status(i, 3)) do reply[#reply + 1] = v end
end
return reply
"""
)

# One scope's local share (``shares.py``): settle what the instance spent from its previous
# share, then grant a new one if the scope has room for it. A share is taken like the calls
# it stands for (requests and tokens counted in the current slot, parallel slots as members,
# budget as a reservation under the share's id), so what other instances see is never less
# than what this one may admit. Arguments after the demand's 11 (at 15):
#   old_slot, unused requests, unused tokens (both returned to old_slot), parallel slots
#   held, parallel slots in use (kept), spend to add, budget still reserved by calls in
#   flight (kept), unused requests of the day; the wanted grants: requests, tokens,
#   parallel, budget, day; the least grant worth having of each; then the number of token
#   true-ups and (slot, delta) pairs.
# Reply: 0 (or -1/-2: a budget window or day not seeded), the granted requests, tokens,
# parallel slots, budget and day requests, the spend before and after, then the status.
SHARE = (
    _PRELUDE
    + """
local share, lease_ttl = ARGV[2], tonumber(ARGV[3])
local H = 3
local function a(j) return tonumber(ARGV[14 + j]) end
local rpm, tpm, par = arg(H, 1, 2), arg(H, 1, 4), arg(H, 1, 5)
local blimit, wttl, rpd = arg(H, 1, 6), arg(H, 1, 9), arg(H, 1, 10)
local old_slot, held, in_use = a(1), a(4), a(5)
if blimit >= 0 and redis.call('HEXISTS', KEYS[4], 'spent') == 0 then return {-1} end
if rpd >= 0 and redis.call('HEXISTS', KEYS[7], 'spent') == 0 then return {-2} end
-- Give back what the previous share did not use, and settle what it spent.
local live_slot = old_slot > slot - W
if rpm >= 0 and live_slot and a(2) > 0 then redis.call('HINCRBY', KEYS[1], old_slot, -a(2)) end
if tpm >= 0 and live_slot and a(3) > 0 then redis.call('HINCRBY', KEYS[2], old_slot, -a(3)) end
if tpm >= 0 then
  local pairs_at = 14 + 19
  for j = 1, tonumber(ARGV[pairs_at]) do
    local s, d = tonumber(ARGV[pairs_at + 2 * j - 1]), tonumber(ARGV[pairs_at + 2 * j])
    if s > slot - W and d ~= 0 then redis.call('HINCRBY', KEYS[2], s, d) end
  end
end
if rpd >= 0 and a(8) > 0 then redis.call('HINCRBY', KEYS[7], 'spent', -a(8)) end
for j = in_use, held - 1 do redis.call('ZREM', KEYS[3], share .. '#' .. j) end
local before, after = -1, -1
if blimit >= 0 then
  local old = tonumber(redis.call('HGET', KEYS[5], share) or '0')
  if old > 0 then redis.call('HINCRBY', KEYS[4], 'reserved', -old) end
  redis.call('HDEL', KEYS[5], share)
  redis.call('ZREM', KEYS[6], share)
  reclaim(KEYS[4], KEYS[5], KEYS[6])
  before = tonumber(redis.call('HGET', KEYS[4], 'spent'))
  after = redis.call('HINCRBY', KEYS[4], 'spent', a(6))
end
-- Grant a sixteenth of what is left of each limit, if every one leaves enough to be worth it.
local F = 16
local g = {0, 0, 0, 0, 0}
local ok = true
local function grant(k, room)
  g[k] = math.min(a(8 + k), math.floor(math.max(room, 0) / F))
  if g[k] < a(13 + k) then ok = false end
end
if rpm >= 0 then grant(1, rpm - slots(KEYS[1])) end
if tpm >= 0 then grant(2, tpm - slots(KEYS[2])) end
if par >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  grant(3, par - redis.call('ZCARD', KEYS[3]))
end
if blimit >= 0 then
  local reserved = tonumber(redis.call('HGET', KEYS[4], 'reserved') or '0')
  grant(4, blimit - after - reserved - a(7))
end
if rpd >= 0 then grant(5, rpd - tonumber(redis.call('HGET', KEYS[7], 'spent'))) end
if not ok then g = {0, 0, 0, 0, 0} end
if rpm >= 0 then
  if g[1] > 0 then redis.call('HINCRBY', KEYS[1], slot, g[1]) end
  redis.call('EXPIRE', KEYS[1], 2 * W)
end
if tpm >= 0 then
  if g[2] > 0 then redis.call('HINCRBY', KEYS[2], slot, g[2]) end
  redis.call('EXPIRE', KEYS[2], 2 * W)
end
if par >= 0 then
  for j = 0, in_use + g[3] - 1 do
    redis.call('ZADD', KEYS[3], now + lease_ttl, share .. '#' .. j)
  end
  redis.call('EXPIRE', KEYS[3], lease_ttl + 60)
end
if blimit >= 0 then
  local hold = a(7) + g[4]
  if hold > 0 then
    redis.call('HINCRBY', KEYS[4], 'reserved', hold)
    redis.call('HSET', KEYS[5], share, hold)
    redis.call('ZADD', KEYS[6], now + lease_ttl, share)
  else
    redis.call('HDEL', KEYS[5], share)
    redis.call('ZREM', KEYS[6], share)
  end
  if wttl > 0 then
    for j = 4, 6 do redis.call('EXPIRE', KEYS[j], wttl) end
  end
end
if rpd >= 0 and g[5] > 0 then
  redis.call('HINCRBY', KEYS[7], 'spent', g[5])
  redis.call('EXPIRE', KEYS[7], math.floor(arg(H, 1, 11) / 1000) + 86400)
end
local reply = {0, g[1], g[2], g[3], g[4], g[5], before, after}
for _, v in ipairs(status(1, H)) do reply[#reply + 1] = v end
return reply
"""
)
