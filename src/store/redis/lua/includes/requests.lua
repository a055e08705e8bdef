--[[
  What the v1 create and the v2 ask share: dedupe by pair, the per-target
  queues (sorted sets scored by expiry) and how long a full one stays full.
]]

-- The pair's pending request as the reply {'existing', requestHash, sealedId, layout, msToExpiry}; nil when none.
local function pendingOfPair (prefix, pairKey)
  local existing = redis.call('GET', pairKey)
  if not existing then return nil end
  local recordKey = prefix .. 'q:' .. existing
  local record = redis.call('HMGET', recordKey, 'st', 'id', 'v')
  if record[1] == 'p' and record[2] then
    return {'existing', existing, record[2], record[3] or '1', redis.call('PTTL', recordKey)}
  end
  return nil
end

-- How many requests of a queue are pending (the expired ones are dropped first).
local function pendingIn (queueKey, now)
  redis.call('ZREMRANGEBYSCORE', queueKey, '-inf', now)
  return redis.call('ZCARD', queueKey)
end

-- ms until the oldest request of a queue expires: a full queue has room by then at the latest.
local function untilOldestExpires (queueKey, now)
  local oldest = redis.call('ZRANGE', queueKey, 0, 0, 'WITHSCORES')
  if oldest[2] then return math.max(1, tonumber(oldest[2]) - now) end
  return 1
end

-- Files a request in a queue, which lives as long as its longest request.
local function enqueue (queueKey, expiresAt, requestHash)
  redis.call('ZADD', queueKey, expiresAt, requestHash)
  keepUntilAtLeast(queueKey, expiresAt)
end
