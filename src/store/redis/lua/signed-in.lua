--[[
  Marks a user signed in through v2 until their session ends: while marked,
  the v1 calls neither list nor answer questions about them. A mark only ever
  moves later (an older session's sign-in does not cut a newer one short).

  A user newly marked has their task polls woken, on every instance: their
  held v1 polls look again and answer at once (held, they would take the
  places of the user's own v2 polls).

  KEYS[1] signedInKey   {p}s:<target>  string  the mark ('1'), expiring with the session
  ARGV[1] ttlMs         how long the session has left
  ARGV[2] prefix        the deployment's key prefix (its wake channel is prefix .. 'wake')
  ARGV[3] targetHash    the user's keyed hash: the wake key of their task polls

  Returns 1
]]
local signedInKey = KEYS[1]
local ttlMs = tonumber(ARGV[1])
local prefix = ARGV[2]
local targetHash = ARGV[3]

--- @include "time"
--- @include "expiry"

local fresh = redis.call('EXISTS', signedInKey) == 0
redis.call('SET', signedInKey, '1', 'KEEPTTL')
keepUntilAtLeast(signedInKey, nowMs() + ttlMs)
if fresh then redis.call('PUBLISH', prefix .. 'wake', targetHash) end
return 1
