--[[
  The target's pending requests, in creation order. The v1 view leaves out
  sealed requests (a v1 plugin cannot seal), and shows nothing at all while
  the target is signed in through v2 (shielded from holders of the v1 key).

  KEYS[1] targetKey     {p}t:<target>  zset    the target's pending requests, scored by expiry
  KEYS[2] signedInKey   {p}s:<target>  string  present while the target has a live v2 session
  ARGV[1] prefix
  ARGV[2] view          'v1' | 'v2'
  ARGV[3] signedInMs    v2: how long the caller's session has left, or '': the mark is kept up
                        at least that long, so that a mark lost with Redis's data (a restart,
                        a failover, a flush) is back by the user's next poll, which then wakes
                        their task polls

  Returns {requestHash, sealedId, layout, msToExpiry, verified ('1' | '0'), sealedRequester or '',
           sealedPublicKey or '', ...}, oldest first; nil for the v1 view of a signed-in target
]]
local targetKey = KEYS[1]
local signedInKey = KEYS[2]
local prefix = ARGV[1]
local view = ARGV[2]
local signedInMs = tonumber(ARGV[3])

--- @include "time"

-- Nil: the v1 view of a signed-in target, which must not even be waited on.
if view == 'v1' and redis.call('EXISTS', signedInKey) == 1 then return false end

local now = nowMs()
if view == 'v2' and signedInMs then
  local untilMs = now + signedInMs
  local markEnds = redis.call('PEXPIRETIME', signedInKey)
  -- Moved, it is set a second past the session's end: the instances' clocks and the
  -- rounding of each call's figure then do not make every poll rewrite it.
  -- pcall: a Redis at its maxmemory refuses the SET, and the poll must answer all the same.
  if markEnds == -2 then
    local set = redis.pcall('SET', signedInKey, '1', 'PXAT', untilMs + 1000)
    -- Shielded again: v1 polls held about the user meanwhile answer now, as at a sign-in
    -- (signed-in.lua), instead of keeping the places of the user's own polls. The wake
    -- key of a target's polls is its hash, the end of targetKey ({p}t:<target>).
    if type(set) == 'table' and set.ok then
      redis.call('PUBLISH', prefix .. 'wake', string.sub(targetKey, #prefix + 3))
    end
  elseif markEnds >= 0 and markEnds < untilMs then
    redis.call('PEXPIREAT', signedInKey, untilMs + 1000)
  end
end
redis.call('ZREMRANGEBYSCORE', targetKey, '-inf', now)

local tasks = {}
local queued = redis.call('ZRANGE', targetKey, 0, -1, 'WITHSCORES')
for i = 1, #queued, 2 do
  local requestHash = queued[i]
  local record = redis.call('HMGET', prefix .. 'q:' .. requestHash, 'st', 'id', 'v', 'o', 'r', 'ri', 'pk')
  if record[1] == 'p' and record[2] and not (view == 'v1' and record[7]) then
    tasks[#tasks + 1] = {
      hash = requestHash, sealedId = record[2], layout = record[3] or '1',
      msToExpiry = tonumber(queued[i + 1]) - now,
      verified = record[5] and '1' or '0', sealedRequester = record[6] or '', sealedPublicKey = record[7] or '',
      -- Records from before layout versions have no creation order: they are the oldest.
      order = tonumber(record[4] or '0'), position = i
    }
  end
end
table.sort(tasks, function (a, b)
  if a.order ~= b.order then return a.order < b.order end
  return a.position < b.position
end)

local reply = {}
for _, task in ipairs(tasks) do
  for _, value in ipairs({task.hash, task.sealedId, task.layout, task.msToExpiry, task.verified, task.sealedRequester, task.sealedPublicKey}) do
    reply[#reply + 1] = value
  end
end
return reply
