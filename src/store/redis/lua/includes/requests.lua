--[[
  What the v1 create and the v2 ask share: dedupe by pair, the per-target
  queues (sorted sets scored by expiry), how long a full one stays full, and
  how a request is opened. Needs the "expiry" and "count" includes before it.
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

--[[
  Opens a request that expires at `expiresAt`: its record (the fields every layout has,
  then `extra`), its place in its target's queue and its pair key; then wakes its
  target's polls. The record's creation order is counted across all instances: the
  target's queue is scored by expiry, which differs from creation order when instances
  run with different TTLs.
]]
local function openRequest (prefix, r, expiresAt, ttlMs, extra)
  local order = redis.call('INCR', prefix .. 'order')
  local bucket = countRequest(prefix, expiresAt)
  local fields = {'v', r.layout, 'st', 'p', 'id', r.sealedId, 't', r.targetHash, 'd', r.pairHash, 'o', order, 'b', bucket}
  for _, value in ipairs(extra) do fields[#fields + 1] = value end
  redis.call('HSET', r.recordKey, unpack(fields))
  redis.call('PEXPIREAT', r.recordKey, expiresAt)
  enqueue(r.targetKey, expiresAt, r.requestHash)
  redis.call('SET', r.pairKey, r.requestHash, 'PX', ttlMs)
  redis.call('PUBLISH', prefix .. 'wake', r.targetHash)
end
