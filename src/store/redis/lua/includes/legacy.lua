--[[
  Records written before layout versions (no 'v' field) are read and expire as
  usual; they are not in this version's count. What those versions kept beside
  them is retired here, whether or not an old instance still runs:
    {prefix}all              zset of every request by expiry (first layout): entries
                             leave as they expire, and Redis drops the set once empty;
    {prefix}total, {prefix}oldest  counters (second layout): expire a day after
                             the last old instance wrote them.
]]
local LEGACY_KEYS_LIVE_MS = 86400000

local function retireLegacy (prefix, nowMs)
  -- Once they are gone (the usual case), one look.
  if redis.call('EXISTS', prefix .. 'all', prefix .. 'total', prefix .. 'oldest') == 0 then return end
  redis.call('ZREMRANGEBYSCORE', prefix .. 'all', '-inf', nowMs)
  redis.call('PEXPIRE', prefix .. 'total', LEGACY_KEYS_LIVE_MS, 'NX')
  redis.call('PEXPIRE', prefix .. 'oldest', LEGACY_KEYS_LIVE_MS, 'NX')
end
