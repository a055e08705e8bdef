-- The per-requester quota of v2 asks as GCRA (see src/identity/quota.ts): one
-- number per requester, the "theoretical arrival time" (tat), in ms.
-- quota_wait(key, now, burstMs) -> 0, or the ms until one more ask fits;
-- quota_take(key, now, intervalMs) counts one ask. The key expires by itself
-- once the quota is whole again.
local function quota_tat (key, now)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  return tat
end
local function quota_wait (key, now, burstMs)
  local wait = quota_tat(key, now) - burstMs - now
  if wait > 0 then return math.ceil(wait) end
  return 0
end
local function quota_take (key, now, intervalMs)
  local tat = quota_tat(key, now) + intervalMs
  redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now))
end
