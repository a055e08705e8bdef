--[[
  How many requests the store holds, for the MAX_PENDING_TOTAL cap, kept in
  O(1) although Redis expires requests silently.

  Every counted request is filed under the one-second bucket in which it
  expires. Once a bucket's second is over, every request filed under it has
  expired, so the whole bucket comes off the total at once. A request thus
  counts from its creation until at most one second after it expires, never
  longer, whatever the TTL and however long the store sat idle.

    {prefix}count:total     string  requests counted
    {prefix}count:expiring  hash    bucket -> how many counted requests expire in it
    {prefix}count:buckets   zset    buckets that hold requests (score = bucket), to find the closed ones

  These keys never expire: counts leave only through closeBuckets and
  uncountRequest, so no key expiry can race them.
]]
local BUCKET_MS = 1000

local function bucketOf (atMs)
  return math.floor(atMs / BUCKET_MS)
end

-- Counts a request that expires at atMs; returns its bucket, which the record keeps.
local function countRequest (prefix, atMs)
  local bucket = bucketOf(atMs)
  redis.call('HINCRBY', prefix .. 'count:expiring', bucket, 1)
  redis.call('ZADD', prefix .. 'count:buckets', bucket, bucket)
  redis.call('INCR', prefix .. 'count:total')
  return bucket
end

-- Stops counting one request of `bucket` before its bucket closes (it was
-- delivered, or its expiry moved). A closed bucket has already left the total.
local function uncountRequest (prefix, bucket)
  if not redis.call('ZSCORE', prefix .. 'count:buckets', bucket) then return end
  redis.call('DECR', prefix .. 'count:total')
  if redis.call('HINCRBY', prefix .. 'count:expiring', bucket, -1) <= 0 then
    redis.call('HDEL', prefix .. 'count:expiring', bucket)
    redis.call('ZREM', prefix .. 'count:buckets', bucket)
  end
end

-- Takes every bucket whose second is over off the total; returns the total.
local function closeBuckets (prefix, nowMs)
  local total = tonumber(redis.call('GET', prefix .. 'count:total') or '0')
  local beforeNow = '(' .. bucketOf(nowMs)
  local closed = redis.call('ZRANGE', prefix .. 'count:buckets', '-inf', beforeNow, 'BYSCORE')
  -- Most calls close nothing (a bucket closes once a second at most): nothing to write then.
  if #closed == 0 then return total end
  for _, bucket in ipairs(closed) do
    total = total - tonumber(redis.call('HGET', prefix .. 'count:expiring', bucket) or '0')
    redis.call('HDEL', prefix .. 'count:expiring', bucket)
  end
  redis.call('ZREMRANGEBYSCORE', prefix .. 'count:buckets', '-inf', beforeNow)
  redis.call('SET', prefix .. 'count:total', total)
  return total
end
