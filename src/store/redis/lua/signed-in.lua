--[[
  Marks a user signed in through v2 until their session ends: while marked,
  the v1 calls neither list nor answer questions about them. A mark only ever
  moves later (an older session's sign-in does not cut a newer one short).

  KEYS[1] signedInKey   {p}s:<target>  string  the mark ('1'), expiring with the session
  ARGV[1] ttlMs         how long the session has left

  Returns 1
]]
local signedInKey = KEYS[1]
local ttlMs = tonumber(ARGV[1])

--- @include "time"
--- @include "expiry"

redis.call('SET', signedInKey, '1', 'KEEPTTL')
keepUntilAtLeast(signedInKey, nowMs() + ttlMs)
return 1
